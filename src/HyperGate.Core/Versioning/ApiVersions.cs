using System.Diagnostics.Metrics;
using System.Text;
using HyperGate.Caching;
using HyperGate.Diagnostics;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;
using HyperGate.Routing;
using HyperGate.Upstreams;

namespace HyperGate.Versioning;

/// <summary>Where a request names its API version.</summary>
public enum VersionSource : byte
{
    /// <summary>The first path segment after the route's prefix, "v2"; it is not sent upstream.</summary>
    Path,
    Header,
    Query,

    /// <summary>A media type in Accept with the version in it: application/vnd.acme.v{version}+json.</summary>
    MediaType,
}

/// <summary>One version of an API: where it goes, and whether (and until when) it is still served.</summary>
public sealed class ApiVersion
{
    public ApiVersion(string name, Upstream upstream, DateTimeOffset? deprecatedSince, DateTimeOffset? sunset, string? link, bool goneAfterSunset, string? rewritePrefix = null)
    {
        Name = name;
        RewritePrefix = rewritePrefix is null ? null : Encoding.ASCII.GetBytes(rewritePrefix);
        NameBytes = Encoding.ASCII.GetBytes(name);
        Upstream = upstream;
        Sunset = sunset;
        GoneAfterSunset = goneAfterSunset;
        Deprecated = deprecatedSince is not null;
        var fields = new StringBuilder();

        // RFC 9745 §2.1: Deprecation is a structured Date, "@" and Unix seconds (a date to come announces it).
        if (deprecatedSince is { } since)
        {
            fields.Append("Deprecation: @").Append(since.ToUnixTimeSeconds()).Append("\r\n");
        }

        // RFC 8594 §3: Sunset is an HTTP-date.
        if (sunset is { } end)
        {
            fields.Append("Sunset: ").Append(HttpDate.Format(end)).Append("\r\n");
        }

        // RFC 8594 §6 and RFC 5829: where to go instead.
        if (link is not null)
        {
            fields.Append("Link: <").Append(link).Append(">; rel=\"successor-version\"\r\n");
        }

        Fields = fields.Length == 0 ? null : Encoding.ASCII.GetBytes(fields.ToString());
    }

    public string Name { get; }

    public byte[] NameBytes { get; }

    public Upstream Upstream { get; }

    /// <summary>Replaces the route's matched prefix in this version's upstream path (<c>rewrite_prefix</c>), when set.</summary>
    public byte[]? RewritePrefix { get; }

    public bool Deprecated { get; }

    public DateTimeOffset? Sunset { get; }

    /// <summary>After <see cref="Sunset"/>: 410 (true) or still served (false).</summary>
    public bool GoneAfterSunset { get; }

    /// <summary>Deprecation, Sunset and Link field lines for this version's responses; null for a current version.</summary>
    public byte[]? Fields { get; }
}

/// <summary>
/// A versioned API on one route: the version is read from the path, a header, a query parameter or the media type;
/// a request that names none gets the default; an unknown one gets 400 listing the supported versions; a version past
/// its sunset gets 410 (unless it is kept). Requests are counted per version, so that owners see who still calls v1.
/// </summary>
public sealed class ApiVersions(VersionSource source, string name, IReadOnlyList<ApiVersion> versions, ApiVersion? fallback, TimeProvider time) : RequestStep
{
    private static readonly Counter<long> Requests = PolicyMetrics.Meter.CreateCounter<long>("hypergate.api_version.requests", "{request}", "Requests to versioned routes, by route, version and whether the version is deprecated.");

    private readonly ApiVersion[] _versions = [.. versions];
    private readonly byte[] _name = Encoding.ASCII.GetBytes(name);
    private readonly byte[] _mediaPrefix = Encoding.ASCII.GetBytes(source == VersionSource.MediaType ? name[..name.IndexOf("{version}", StringComparison.Ordinal)] : string.Empty);
    private readonly byte[] _mediaSuffix = Encoding.ASCII.GetBytes(source == VersionSource.MediaType ? name[(name.IndexOf("{version}", StringComparison.Ordinal) + "{version}".Length)..] : string.Empty);

    public VersionSource Source => source;

    public string Name => name;

    public IReadOnlyList<ApiVersion> Versions => _versions;

    public ApiVersion? Default => fallback;

    public override ValueTask<StepResult> RunAsync(Exchange exchange)
    {
        ApiVersion? version;
        if (!TryRead(exchange, out ReadOnlySpan<byte> named))
        {
            version = fallback;
            if (version is null)
            {
                return Refuse(exchange, 400, "version-required", "The request names no API version", $"Name one of {Supported()} ({Where()}).");
            }
        }
        else if ((version = Find(named)) is null)
        {
            return Refuse(exchange, 400, "unknown-version", "The API version is not supported", $"\"{Encoding.ASCII.GetString(named)}\" is not one of {Supported()}.");
        }

        Requests.Add(1, new KeyValuePair<string, object?>("route", exchange.Route?.Name), new KeyValuePair<string, object?>("version", version.Name), new KeyValuePair<string, object?>("deprecated", version.Deprecated));
        if (version.Fields is { } fields)
        {
            exchange.AddRouteFields(fields);
        }

        if (version.GoneAfterSunset && version.Sunset is { } sunset && time.GetUtcNow() >= sunset)
        {
            return Refuse(exchange, 410, "version-gone", "The API version is no longer served", $"Version {version.Name} reached its sunset on {HttpDate.Format(sunset)}.");
        }

        exchange.ChosenUpstream = version.Upstream;
        exchange.ChosenPrefix = version.RewritePrefix;
        return ValueTask.FromResult(StepResult.Continue);
    }

    private ApiVersion? Find(ReadOnlySpan<byte> named)
    {
        foreach (ApiVersion version in _versions)
        {
            if (named.SequenceEqual(version.NameBytes))
            {
                return version;
            }
        }

        return null;
    }

    /// <summary>Reads the version the request names, if any (a path segment "v2" names "2", and is cut from the upstream path).</summary>
    private bool TryRead(Exchange exchange, out ReadOnlySpan<byte> named)
    {
        RequestHead request = exchange.Request;
        named = default;
        switch (source)
        {
            case VersionSource.Header:
                return request.TryGetHeader(_name, out named) && !(named = named.Trim(" \t"u8)).IsEmpty;
            case VersionSource.Query:
                return QueryString.TryFind(request.Query, _name, out named) && !named.IsEmpty;
            case VersionSource.MediaType:
                return TryReadMediaType(request, out named);
            default:
                ReadOnlySpan<byte> path = request.NormalizedPath;
                int start = exchange.Route!.Template.Segments.Length == 0 ? 1 : PathTemplate.PrefixLength(path, exchange.Route.Template.Segments.Length) + 1;
                if (start >= path.Length || (path[start] | 0x20) != 'v')
                {
                    return false;
                }

                int end = path[start..].IndexOf((byte)'/');
                ReadOnlySpan<byte> segment = end < 0 ? path[start..] : path[start..(start + end)];

                // "v" and a digit: a version, known or not ("/vehicles" is a resource of the default version).
                if (segment.Length < 2 || !char.IsAsciiDigit((char)segment[1]))
                {
                    return false;
                }

                named = segment[1..];
                exchange.CutUpstreamPath(start - 1, segment.Length + 1);
                return true;
        }
    }

    private bool TryReadMediaType(RequestHead request, out ReadOnlySpan<byte> named)
    {
        named = default;
        if (!request.TryGetHeader("accept"u8, out ReadOnlySpan<byte> accept))
        {
            return false;
        }

        foreach (Range range in accept.Split((byte)','))
        {
            ReadOnlySpan<byte> member = accept[range].Trim(" \t"u8);
            int semicolon = member.IndexOf((byte)';');
            ReadOnlySpan<byte> type = (semicolon < 0 ? member : member[..semicolon]).TrimEnd(" \t"u8);
            if (type.Length > _mediaPrefix.Length + _mediaSuffix.Length && Ascii.EqualsIgnoreCase(type[.._mediaPrefix.Length], _mediaPrefix) && Ascii.EqualsIgnoreCase(type[^_mediaSuffix.Length..], _mediaSuffix))
            {
                named = type[_mediaPrefix.Length..^_mediaSuffix.Length];
                return true;
            }
        }

        return false;
    }

    private string Supported() => string.Join(", ", _versions.Select(v => v.Name));

    private string Where() => source switch
    {
        VersionSource.Path => "as the path segment v{version}",
        VersionSource.Header => $"in the {name} header",
        VersionSource.Query => $"in the {name} query parameter",
        _ => $"as the media type {name} in Accept",
    };

    private static ValueTask<StepResult> Refuse(Exchange exchange, int status, string type, string title, string detail)
    {
        bool keepAlive = exchange.CanKeepAliveAfterAnswer();
        exchange.Rejection = status == 410 ? RejectionReason.VersionGone : RejectionReason.UnknownVersion;
        ProblemDetails.Write(exchange, status, type, title, detail, [], close: !keepAlive);
        return ValueTask.FromResult(StepResult.Answered(keepAlive));
    }
}
