using System.Text;
using HyperGate.Http1;
using HyperGate.Routing;
using HyperGate.Transforms;
using HyperGate.Transforms.Json;

namespace HyperGate.Configuration;

/// <summary><c>request_headers</c>, <c>response_headers</c> or <c>request_query</c> = { remove, rename, set, add }: values are template texts.</summary>
public sealed record FieldTransformConfig(
    IReadOnlyList<string> Remove,
    IReadOnlyList<KeyValuePair<string, string>> Rename,
    IReadOnlyList<KeyValuePair<string, string>> Set,
    IReadOnlyList<KeyValuePair<string, string>> Add);

/// <summary>
/// <c>request_body</c> / <c>response_body</c> = { rename, remove, allow, set, max_size, on_invalid }: JSON Pointer paths;
/// set values are strings (templates), numbers or booleans.
/// </summary>
public sealed record JsonBodyConfig(
    IReadOnlyList<KeyValuePair<string, string>> Rename,
    IReadOnlyList<string> Remove,
    IReadOnlyList<string> Allow,
    IReadOnlyList<KeyValuePair<string, object>> Set,
    long MaxSize,
    bool FailOnInvalid,
    bool FailOnTooLarge = false)
{
    public const long DefaultMaxSize = 1024 * 1024;
}

/// <summary>A route's transforms, in config form; each null when the route does not use it.</summary>
public sealed record RouteTransformsConfig(FieldTransformConfig? RequestHeaders, FieldTransformConfig? ResponseHeaders, FieldTransformConfig? RequestQuery, JsonBodyConfig? RequestBody = null, JsonBodyConfig? ResponseBody = null)
{
    public static RouteTransformsConfig None { get; } = new(null, null, null);
}

/// <summary>The transforms' config: a route's header and query rewrites, and <c>[request_id]</c>.</summary>
public static partial class ConfigLoader
{
    /// <summary>Fields that frame a message or belong to one connection (RFC 9110 §7.6.1): no transform may touch them.</summary>
    private static readonly string[] FramingFields = ["content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "proxy-connection"];

    /// <summary>Fields the gateway itself writes on a request sent upstream.</summary>
    private static readonly string[] ForwardingFields = ["host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "via", "traceparent", "client-cert", "client-cert-chain"];

    /// <summary><c>[request_id]</c>: the field name, or null when the table is absent.</summary>
    private static string? ReadRequestId(ConfigReader? table)
    {
        if (table is null)
        {
            return null;
        }

        string header = table.String("header", "X-Request-Id")!;
        if (!HttpCharacters.IsToken(Encoding.ASCII.GetBytes(header)))
        {
            table.Error("header", $"\"{header}\" is not a field name", "write header = \"X-Request-Id\"");
        }

        table.RejectUnknownKeys();
        return header;
    }

    /// <summary>
    /// The fields a request transform may not name: framing, what the gateway writes, the identity fields it strips
    /// from clients (so no transform can forge an identity) and the request id's field.
    /// </summary>
    private static HashSet<string> GatewayRequestFields(IdentityConfig identity, string? requestIdHeader) =>
        new([.. FramingFields, .. ForwardingFields, .. new[] { identity.ConsumerHeader, requestIdHeader }.OfType<string>(), .. identity.ClaimHeaders.Select(c => c.Value)], StringComparer.OrdinalIgnoreCase);

    private static RouteTransformsConfig ReadTransforms(ConfigReader route, string? path, string? prefix, bool authenticated, IReadOnlySet<string> gatewayRequestFields, string? requestIdHeader)
    {
        PathTemplate? template = (path ?? prefix) is { } routePath ? PathTemplate.Parse(routePath, out _) : null;
        HashSet<string> responseManaged = new([.. FramingFields, .. new[] { requestIdHeader, "cache-status" }.OfType<string>()], StringComparer.OrdinalIgnoreCase);
        return new RouteTransformsConfig(
            ReadFieldTransform(route, "request_headers", template, authenticated, name => gatewayRequestFields.Contains(name), header: true),
            ReadFieldTransform(route, "response_headers", template, authenticated, responseManaged.Contains, header: true),
            ReadFieldTransform(route, "request_query", template, authenticated, _ => false, header: false),
            ReadJsonBody(route, "request_body", template, authenticated),
            ReadJsonBody(route, "response_body", template, authenticated));
    }

    private static JsonBodyConfig? ReadJsonBody(ConfigReader route, string key, PathTemplate? template, bool authenticated)
    {
        if (route.Table(key) is not { } table)
        {
            return null;
        }

        const string example = "{ rename = { \"/user_name\" = \"/username\" }, remove = [\"/password\", \"/items/*/card_number\"], set = { \"/source\" = \"gateway\" } }";
        JsonPointerPath? Pointer(string text, SourceLocation location, string entryKey)
        {
            JsonPointerPath? path = JsonPointerPath.Parse(text, out string? error);
            if (path is null)
            {
                table.ErrorAt(location, entryKey, $"\"{text}\": {error}", $"{key} = {example}");
            }

            return path;
        }

        List<string> remove = [.. table.StringList("remove").Where(r => Pointer(r.Value, r.Location, "remove") is not null).Select(r => r.Value)];
        List<string> allow = [.. table.StringList("allow").Where(r => Pointer(r.Value, r.Location, "allow") is not null).Select(r => r.Value)];
        var rename = new List<KeyValuePair<string, string>>();
        foreach ((string from, TomlNode value) in table.Table("rename")?.Entries() ?? [])
        {
            if (value is not TomlScalar { Value: string to })
            {
                table.ErrorAt(value.Location, "rename", $"\"{from}\" needs the new path as a string", $"{key} = {example}");
                continue;
            }

            if (Pointer(from, value.Location, "rename") is { } fromPath && Pointer(to, value.Location, "rename") is { } toPath)
            {
                if (!fromPath.SameParentAs(toPath) || toPath.EndsWithWildcard)
                {
                    table.ErrorAt(value.Location, "rename", $"\"{from}\" -> \"{to}\": a rename keeps the field where it is (same parent) and names it", "write rename = { \"/user/user_name\" = \"/user/username\" }");
                    continue;
                }

                rename.Add(new(from, to));
            }
        }

        var set = new List<KeyValuePair<string, object>>();
        foreach ((string path, TomlNode value) in table.Table("set")?.Entries() ?? [])
        {
            if (Pointer(path, value.Location, "set") is not { } pointer)
            {
                continue;
            }

            if (pointer.EndsWithWildcard)
            {
                table.ErrorAt(value.Location, "set", $"\"{path}\": a set names the field it sets, not '*'", "write set = { \"/meta/source\" = \"gateway\" }");
                continue;
            }

            switch (value)
            {
                case TomlScalar { Value: string text }:
                    if (Template.Compile(text, template, authenticated, out string? error) is null)
                    {
                        table.ErrorAt(value.Location, "set", $"\"{text}\": {error}", $"variables: {Template.Known}");
                        continue;
                    }

                    set.Add(new(path, text));
                    break;
                case TomlScalar { Value: double number } when !double.IsFinite(number):
                    table.ErrorAt(value.Location, "set", $"\"{path}\": JSON has no {number}", "write a finite number");
                    break;
                case TomlScalar { Value: long or double or bool } scalar:
                    set.Add(new(path, scalar.Value));
                    break;
                default:
                    table.ErrorAt(value.Location, "set", $"\"{path}\" needs a string, number or boolean", $"{key} = {example}");
                    break;
            }
        }

        long maxSize = table.Size("max_size", JsonBodyConfig.DefaultMaxSize, 1, 64L * 1024 * 1024);
        bool Choice(string choiceKey) => table.String(choiceKey, "pass") switch
        {
            "pass" => false,
            "fail" => true,
            var other => Invalid(choiceKey, other!),
        };

        bool Invalid(string choiceKey, string other)
        {
            table.Error(choiceKey, $"\"{other}\" is not a choice", "use \"pass\" (the body goes out untouched) or \"fail\" (502)");
            return false;
        }

        bool failOnInvalid = key == "response_body" && Choice("on_invalid");
        bool failOnTooLarge = key == "response_body" && Choice("on_too_large");

        if (remove.Count + allow.Count + rename.Count + set.Count > JsonBodyTransform.MaxRules)
        {
            route.Error(key, $"at most {JsonBodyTransform.MaxRules} paths in all", "split the transform, or use allow to keep a few fields instead of removing many");
        }

        table.RejectUnknownKeys();
        return new JsonBodyConfig(rename, remove, allow, set, maxSize, failOnInvalid, failOnTooLarge);
    }

    private static FieldTransformConfig? ReadFieldTransform(ConfigReader route, string key, PathTemplate? template, bool authenticated, Func<string, bool> managed, bool header)
    {
        if (route.Table(key) is not { } table)
        {
            return null;
        }

        string example = header
            ? $"{key} = {{ set = {{ \"X-Consumer\" = \"{{consumer}}\" }}, add = {{ \"X-Via-Gateway\" = \"1\" }}, remove = [\"X-Internal\"], rename = {{ \"X-Old\" = \"X-New\" }} }}"
            : $"{key} = {{ set = {{ version = \"2\" }}, add = {{ tenant = \"{{path.tenant}}\" }}, remove = [\"debug\"], rename = {{ q = \"query\" }} }}";

        bool Valid(string name, SourceLocation location, string entryKey)
        {
            bool validName = header
                ? HttpCharacters.IsToken(Encoding.ASCII.GetBytes(name))
                : name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~');
            if (!validName)
            {
                table.ErrorAt(location, entryKey, $"\"{name}\" is not a {(header ? "field" : "query parameter")} name", header ? example : "query parameter names here are letters, digits and - . _ ~");
                return false;
            }

            if (managed(name))
            {
                table.ErrorAt(location, entryKey, $"{name} is the gateway's to write (framing, forwarding, identity or request id)", "remove it from this transform");
                return false;
            }

            return true;
        }

        List<string> remove = [.. table.StringList("remove").Where(r => Valid(r.Value, r.Location, "remove")).Select(r => r.Value)];
        var rename = new List<KeyValuePair<string, string>>();
        foreach ((string from, TomlNode value) in table.Table("rename")?.Entries() ?? [])
        {
            if (value is not TomlScalar { Value: string to })
            {
                table.ErrorAt(value.Location, "rename", $"\"{from}\" needs the new name as a string", example);
            }
            else if (Valid(from, value.Location, "rename") && Valid(to, value.Location, "rename"))
            {
                rename.Add(new(from, to));
            }
        }

        List<KeyValuePair<string, string>> Values(string entryKey)
        {
            var values = new List<KeyValuePair<string, string>>();
            foreach ((string name, TomlNode value) in table.Table(entryKey)?.Entries() ?? [])
            {
                if (value is not TomlScalar { Value: string text })
                {
                    table.ErrorAt(value.Location, entryKey, $"\"{name}\" needs a string value (a template)", example);
                }
                else if (Valid(name, value.Location, entryKey))
                {
                    if (Template.Compile(text, template, authenticated, out string? error) is null)
                    {
                        table.ErrorAt(value.Location, entryKey, $"\"{text}\": {error}", $"variables: {Template.Known}");
                    }
                    else
                    {
                        values.Add(new(name, text));
                    }
                }
            }

            return values;
        }

        var config = new FieldTransformConfig(remove, rename, Values("set"), Values("add"));
        table.RejectUnknownKeys();
        return config;
    }
}
