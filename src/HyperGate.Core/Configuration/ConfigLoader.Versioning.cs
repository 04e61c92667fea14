using System.Globalization;
using HyperGate.Versioning;

namespace HyperGate.Configuration;

/// <summary>One <c>versions.NAME</c> table.</summary>
public sealed record VersionConfig(string Name, string Upstream, DateTimeOffset? Deprecated, DateTimeOffset? Sunset, string? Link, bool GoneAfterSunset, string? RewritePrefix);

/// <summary><c>version_by</c>, <c>default_version</c> and <c>versions</c> on a route.</summary>
public sealed record VersioningConfig(VersionSource Source, string Name, string? Default, IReadOnlyList<VersionConfig> Versions);

public static partial class ConfigLoader
{
    private static VersioningConfig? ReadVersioning(ConfigReader route, HashSet<string> upstreamNames)
    {
        ConfigReader? by = route.Table("version_by");
        ConfigReader? versionsTable = route.Table("versions");
        string? defaultVersion = route.String("default_version");
        if (by is null && versionsTable is null && defaultVersion is null)
        {
            return null;
        }

        const string example = "version_by = { header = \"Api-Version\" } (or { query = \"api-version\" }, { path = true }, { media_type = \"application/vnd.acme.v{version}+json\" })";
        (VersionSource Source, string Name)? source = null;
        if (by is null)
        {
            route.Error("versions", "needs version_by: where a request names its version", example);
        }
        else
        {
            var found = new List<(VersionSource, string)>();
            if (by.String("header") is { } header)
            {
                found.Add((VersionSource.Header, header));
            }

            if (by.String("query") is { } query)
            {
                found.Add((VersionSource.Query, query));
            }

            if (by.Bool("path", false))
            {
                found.Add((VersionSource.Path, "path"));
            }

            if (by.String("media_type") is { } mediaType)
            {
                if (!mediaType.Contains("{version}", StringComparison.Ordinal) || !mediaType.Contains('/'))
                {
                    by.Error("media_type", $"\"{mediaType}\" must be a media type with {{version}} in it", "write media_type = \"application/vnd.acme.v{version}+json\"");
                }

                found.Add((VersionSource.MediaType, mediaType));
            }

            by.RejectUnknownKeys();
            if (found.Count != 1)
            {
                route.Error("version_by", "names one place to read the version from", example);
            }
            else
            {
                source = found[0];
            }
        }

        var versions = new List<VersionConfig>();
        foreach ((string name, ConfigReader version) in versionsTable?.NamedTables() ?? [])
        {
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
            {
                versionsTable!.Error(name, $"\"{name}\" is not a version name", "use letters, digits, '.', '-' and '_', such as \"2\" or \"2024-06-01\"");
            }
            else if (source?.Source == VersionSource.Path && !char.IsAsciiDigit(name[0]))
            {
                versionsTable!.Error(name, $"\"{name}\" must start with a digit to be read from the path (\"/v{name}\")", "name path versions \"1\", \"2\", \"2.1\"…");
            }

            string? upstream = version.String("upstream");
            if (upstream is null)
            {
                version.Error("upstream", "is required", "write upstream = \"NAME\"");
            }
            else if (!upstreamNames.Contains(upstream))
            {
                version.Error("upstream", $"unknown upstream \"{upstream}\"", $"add [upstreams.{upstream}]");
            }

            DateTimeOffset? deprecated = Date(version, "deprecated");
            DateTimeOffset? sunset = Date(version, "sunset");
            string? link = version.String("successor_link");
            if (link is not null && !Uri.TryCreate(link, UriKind.RelativeOrAbsolute, out _))
            {
                version.Error("successor_link", $"\"{link}\" is not a URI reference", "write a URL such as \"https://api.example.com/v2/docs\" or a path");
            }

            bool gone = version.String("after_sunset", "gone") switch
            {
                "gone" => true,
                "serve" => false,
                var other => AfterSunsetError(version, other!),
            };
            string? rewritePrefix = version.String("rewrite_prefix");
            if (rewritePrefix is not null && (!rewritePrefix.StartsWith('/') || !IsNormalized(rewritePrefix)))
            {
                version.Error("rewrite_prefix", $"\"{rewritePrefix}\" must be a normalized path starting with /", "write a path such as \"/legacy\"");
            }

            if (rewritePrefix is not null && !route.Has("path_prefix"))
            {
                version.Error("rewrite_prefix", "only applies to path_prefix routes", "use path_prefix on the route");
            }

            version.RejectUnknownKeys();
            versions.Add(new VersionConfig(name, upstream ?? string.Empty, deprecated, sunset, link, gone, rewritePrefix));
        }

        if (versions.Count == 0)
        {
            route.Error("versions", "declares no version", "add [routes.NAME.versions.1] with upstream = \"...\"");
        }

        if (defaultVersion is not null && versions.All(v => v.Name != defaultVersion))
        {
            route.Error("default_version", $"\"{defaultVersion}\" is not one of the versions", $"declared: {string.Join(", ", versions.Select(v => v.Name))}");
        }

        return source is { } read ? new VersioningConfig(read.Source, read.Name, defaultVersion, versions) : null;
    }

    private static bool AfterSunsetError(ConfigReader version, string other)
    {
        version.Error("after_sunset", $"\"{other}\" is not a choice", "use \"gone\" (410 after the sunset) or \"serve\"");
        return true;
    }

    /// <summary>A TOML date or date-time, or an RFC 3339 string; UTC when no offset is given.</summary>
    private static DateTimeOffset? Date(ConfigReader table, string key)
    {
        if (!table.Has(key))
        {
            return null;
        }

        object? value = table.Value(key);
        if (value is DateTimeOffset date)
        {
            return date;
        }

        if (value is string text && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed))
        {
            return parsed;
        }

        table.Error(key, "must be a date", $"write {key} = 2026-12-31T23:59:59Z or {key} = 2026-12-31");
        return null;
    }
}
