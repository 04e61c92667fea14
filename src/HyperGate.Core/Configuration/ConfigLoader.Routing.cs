using System.Text;
using System.Text.RegularExpressions;
using HyperGate.Http1;
using HyperGate.Routing;

namespace HyperGate.Configuration;

/// <summary>A route's header (or, <paramref name="InQuery"/>, query) predicate, in config form.</summary>
public sealed record PredicateConfig(bool InQuery, string Name, ValueTest Test, string? Text);

/// <summary>What a route matches beyond host and methods, and how its path is rewritten: path templates, predicates, <c>rewrite</c>.</summary>
public static partial class ConfigLoader
{
    /// <summary>
    /// <c>path</c> or <c>path_prefix</c>, which may hold parameters (<c>/users/{id}</c>, <c>/files/{*rest}</c>): its
    /// literal segments must already be in the form requests are normalized to, or it could never match.
    /// </summary>
    private static string? ValidatePath(ConfigReader route, string key)
    {
        string? path = route.String(key);
        if (path is null)
        {
            return null;
        }

        string? templateError = "must start with /";
        PathTemplate? template = path.StartsWith('/') ? PathTemplate.Parse(path, out templateError) : null;
        if (template is null)
        {
            route.Error(key, $"\"{path}\": {templateError}", "write a path such as \"/users/{id}\" or \"/files/{*rest}\"");
            return null;
        }

        // Each parameter stands for a segment that exists; the literal rest must be normalized.
        string literal = "/" + string.Join('/', template.Segments.Select(s => s.Kind == TemplateSegmentKind.Literal ? s.Text : "p"));
        if (!IsNormalized(path.Length == 1 ? path : literal))
        {
            route.Error(key, $"\"{path}\" is not a normalized absolute path", "start with /, and avoid //, /./, /../ and percent-encoded unreserved characters");
            return null;
        }

        if (template.EndsWithCatchAll && key == "path_prefix")
        {
            route.Error(key, "a catch-all parameter already matches the whole subtree", "write path = \"...{*rest}\" instead of path_prefix");
            return null;
        }

        // A prefix matches whole segments, so "/users/" and "/users" mean the same subtree.
        return key == "path_prefix" && path.Length > 1 ? path.TrimEnd('/') : path;
    }

    /// <summary>
    /// <c>headers</c> and <c>query</c>: name = "value" (equal), true (present), false (absent) or { regex = "…" }.
    /// Header names are case-insensitive tokens; query names are compared as sent.
    /// </summary>
    private static List<PredicateConfig> ReadPredicates(ConfigReader route, string key)
    {
        var predicates = new List<PredicateConfig>();
        ConfigReader? table = route.Table(key);
        string example = key == "headers" ? "headers = { \"x-tenant\" = \"blue\", \"x-debug\" = true, \"x-id\" = { regex = \"^[0-9]+$\" } }" : "query = { version = \"2\", debug = true, id = { regex = \"^[0-9]+$\" } }";
        foreach ((string name, TomlNode value) in table?.Entries() ?? [])
        {
            bool validName = key == "headers"
                ? HttpCharacters.IsToken(Encoding.ASCII.GetBytes(name))
                : name.Length > 0 && !name.AsSpan().ContainsAny("&=#? ") && Encoding.UTF8.GetByteCount(name) == name.Length;
            if (!validName)
            {
                table!.Error(name, $"\"{name}\" is not a {(key == "headers" ? "header field" : "query parameter")} name", example);
                continue;
            }

            switch (value)
            {
                case TomlScalar { Value: string text }:
                    predicates.Add(new PredicateConfig(key == "query", name, ValueTest.Equals, text));
                    break;
                case TomlScalar { Value: bool present }:
                    predicates.Add(new PredicateConfig(key == "query", name, present ? ValueTest.Present : ValueTest.Absent, null));
                    break;
                case TomlTableNode:
                    ConfigReader test = table!.Table(name)!;
                    string? pattern = test.String("regex");
                    test.RejectUnknownKeys();
                    if (pattern is null)
                    {
                        table.Error(name, "a table here needs regex", example);
                    }
                    else if (RegexError(pattern) is { } error)
                    {
                        test.Error("regex", $"\"{pattern}\" is not a usable regular expression: {error}", "use .NET syntax without backreferences or lookarounds (matching is linear-time)");
                    }
                    else
                    {
                        predicates.Add(new PredicateConfig(key == "query", name, ValueTest.Regex, pattern));
                    }

                    break;
                default:
                    table!.Error(name, "must be a string, true, false or { regex = \"…\" }", example);
                    break;
            }
        }

        return predicates;
    }

    private static string? RegexError(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);
            return null;
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// <c>rewrite</c>: the upstream path from the route's parameters. On an exact path it is the whole path; on a
    /// path_prefix it replaces the matched prefix (the rest of the path follows).
    /// </summary>
    private static string? ReadRewrite(ConfigReader route, string? path, string? prefix)
    {
        string? rewrite = route.String("rewrite");
        if (rewrite is null)
        {
            return null;
        }

        if (route.Has("rewrite_prefix") || route.Bool("strip_prefix", false))
        {
            route.Error("rewrite", "cannot be combined with rewrite_prefix or strip_prefix", "keep rewrite (it can do both)");
            return null;
        }

        PathTemplate? template = (path ?? prefix) is { } routePath ? PathTemplate.Parse(routePath, out _) : null;
        if (template is not null && PathRewrite.Compile(rewrite, template, out string? error) is null)
        {
            route.Error("rewrite", $"\"{rewrite}\": {error}", "write a path using the route's parameters, such as \"/v2/accounts/{id}\"");
            return null;
        }

        return rewrite;
    }
}
