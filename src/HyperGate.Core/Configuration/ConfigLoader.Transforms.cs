using System.Text;
using HyperGate.Http1;
using HyperGate.Routing;
using HyperGate.Transforms;

namespace HyperGate.Configuration;

/// <summary><c>request_headers</c>, <c>response_headers</c> or <c>request_query</c> = { remove, rename, set, add }: values are template texts.</summary>
public sealed record FieldTransformConfig(
    IReadOnlyList<string> Remove,
    IReadOnlyList<KeyValuePair<string, string>> Rename,
    IReadOnlyList<KeyValuePair<string, string>> Set,
    IReadOnlyList<KeyValuePair<string, string>> Add);

/// <summary>A route's transforms, in config form; each null when the route does not use it.</summary>
public sealed record RouteTransformsConfig(FieldTransformConfig? RequestHeaders, FieldTransformConfig? ResponseHeaders, FieldTransformConfig? RequestQuery)
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
            ReadFieldTransform(route, "request_query", template, authenticated, _ => false, header: false));
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
