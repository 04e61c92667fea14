namespace HyperGate.Configuration;

/// <summary>The whole config file, bound and validated. Immutable.</summary>
public sealed record GatewayConfig(
    string SourcePath,
    ServerConfig Server,
    LimitsConfig Limits,
    IReadOnlyList<UpstreamConfig> Upstreams,
    IReadOnlyList<RouteConfig> Routes);

/// <summary><c>[server]</c></summary>
public sealed record ServerConfig(IReadOnlyList<string> Listen, TimeSpan DrainTimeout, int MaxConnections, bool CaseSensitiveRouting);

/// <summary><c>[limits]</c>: what downstream clients may send.</summary>
public sealed record LimitsConfig(
    int MaxHeadSize,
    int MaxHeaderCount,
    int MaxRequestTargetLength,
    int MaxHeaderNameLength,
    int MaxHeaderLineLength,
    long MaxBodySize,
    TimeSpan RequestHeadTimeout,
    TimeSpan KeepAliveTimeout,
    long MinBodyRate,
    TimeSpan BodyRateGrace);

/// <summary><c>[upstreams.NAME]</c></summary>
public sealed record UpstreamConfig(
    string Name,
    SourceLocation Location,
    IReadOnlyList<string> Targets,
    TimeSpan ConnectTimeout,
    TimeSpan ResponseTimeout,
    int MaxIdleConnections,
    TimeSpan IdleTimeout);

/// <summary><c>[routes.NAME]</c></summary>
public sealed record RouteConfig(
    string Name,
    SourceLocation Location,
    string? Host,
    string? Path,
    string? PathPrefix,
    IReadOnlyList<string> Methods,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    int Priority,
    string? Upstream,
    bool StripPrefix,
    string? RewritePrefix,
    bool PreserveHost,
    DirectResponseConfig? Respond);

/// <summary><c>respond = { status = 503, body = "...", content_type = "..." }</c></summary>
public sealed record DirectResponseConfig(int Status, string Body, string ContentType);
