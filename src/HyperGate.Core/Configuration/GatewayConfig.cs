using System.Net;
using HyperGate.Caching;
using HyperGate.Http2;
using HyperGate.RateLimiting;
using HyperGate.Resilience;
using HyperGate.Upstreams;
using HyperGate.Upstreams.Balancing;
using HyperGate.Upstreams.Discovery;
using HyperGate.Upstreams.Health;

using HyperGate.Tls;

namespace HyperGate.Configuration;

/// <summary>The whole config file, bound and validated. Immutable.</summary>
public sealed record GatewayConfig(
    string SourcePath,
    ServerConfig Server,
    LimitsConfig Limits,
    IReadOnlyList<UpstreamConfig> Upstreams,
    IReadOnlyList<RouteConfig> Routes,
    IReadOnlyList<RateLimitConfig> RateLimits,
    ClusterConfig Cluster,
    IReadOnlyList<ConsumerConfig> Consumers,
    IReadOnlyList<AuthConfig> Auth,
    IdentityConfig Identity,
    IpFilterConfig Access,
    AdminConfig Admin,
    AccessLogConfig AccessLog,
    TracingConfig Tracing,
    DnsSettings Dns)
{
    /// <summary>The first 12 hex digits of the file's SHA-256: which version of the file is running.</summary>
    public string Version { get; init; } = "";

    /// <summary><c>[request_id] header</c>: the field carrying each request's id; null without <c>[request_id]</c>.</summary>
    public string? RequestIdHeader { get; init; }

    /// <summary>What is valid but unsafe (verification turned off): reported, never refused.</summary>
    public IReadOnlyList<ConfigError> Warnings { get; init; } = [];

    /// <summary><c>[tls]</c> with its certificates loaded; <see cref="TlsSettings.None"/> without one.</summary>
    /// <summary><c>[http2]</c>: HTTP/2 at the edge.</summary>
    public Http2Settings Http2 { get; init; } = Http2Settings.Default;

    public TlsSettings Tls { get; init; } = TlsSettings.None;

    /// <summary><c>[cache]</c>: the response store's bounds (used by routes with <c>cache</c>).</summary>
    public CacheConfig Cache { get; init; } = CacheConfig.Default;

    /// <summary>The file as parsed (for the admin API's redacted view of the running config).</summary>
    public TomlTableNode? Source { get; init; }

    /// <summary>What the file defines, for log lines: "3 routes, 1 upstream".</summary>
    public string Summary => $"{Count(Routes.Count, "route")}, {Count(Upstreams.Count, "upstream")}";

    private static string Count(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";
}

/// <summary><c>allow_ips</c> and <c>deny_ips</c>, in <c>[access]</c> or on a route.</summary>
public sealed record IpFilterConfig(IReadOnlyList<IPNetwork> Allow, IReadOnlyList<IPNetwork> Deny)
{
    public static IpFilterConfig None { get; } = new([], []);

    public bool IsEmpty => Allow.Count == 0 && Deny.Count == 0;
}

/// <summary>A route's <c>cors = { ... }</c>.</summary>
public sealed record CorsConfig(
    IReadOnlyList<string> Origins,
    IReadOnlyList<string> Methods,
    IReadOnlyList<string> Headers,
    IReadOnlyList<string> ExposeHeaders,
    bool Credentials,
    TimeSpan MaxAge);

/// <summary><c>[server]</c></summary>
public sealed record ServerConfig(
    IReadOnlyList<ListenAddress> Listen,
    TimeSpan DrainTimeout,
    int MaxConnections,
    bool CaseSensitiveRouting,
    IReadOnlyList<IPNetwork> TrustedProxies,
    bool WatchConfig,
    bool KeepEncodedSlashes = false);

/// <summary>One <c>server.listen</c> address; where it was written, for errors found when binding it.</summary>
public sealed record ListenAddress(IPEndPoint EndPoint, SourceLocation Location, bool Tls = false)
{
    /// <summary>A <c>listen_tls</c> table's own <c>client_auth</c>: it decides for every handshake on this address; null where <c>[tls]</c> does.</summary>
    public ClientCertificatePolicy? ClientAuth { get; init; }

    public override string ToString() => EndPoint.ToString();

    /// <summary>The address as a URL base, for log lines: http://… or https://….</summary>
    public string Url(IPEndPoint bound) => $"{(Tls ? "https" : "http")}://{bound}";
}

/// <summary><c>[admin]</c>: the operations listener. <see cref="Listen"/> is null when there is none.</summary>
public sealed record AdminConfig(string? Listen, bool Dashboard)
{
    public static AdminConfig None { get; } = new(null, true);
}

/// <summary><c>[access_log]</c>: one JSON line per request. <see cref="Path"/> is null when logging is off, "stdout" for the console.</summary>
public sealed record AccessLogConfig(string? Path, long MaxSize, int MaxFiles, int QueueSize)
{
    public static AccessLogConfig None { get; } = new(null, 100L << 20, 5, 65_536);

    public bool ToStdout => Path == "stdout";
}

/// <summary><c>[tracing]</c>: W3C trace context, sampling, optional OTLP export and Server-Timing.</summary>
public sealed record TracingConfig(double SampleRate, string? OtlpEndpoint, string ServiceName, bool ServerTiming)
{
    public static TracingConfig Default { get; } = new(0.01, null, "hypergate", false);
}

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
    IReadOnlyList<TargetConfig> Targets,
    TimeSpan ConnectTimeout,
    TimeSpan ResponseTimeout,
    int MaxIdleConnections,
    TimeSpan IdleTimeout,
    BalanceSettings Balance,
    UpstreamHealthSettings Health,
    UpstreamProtectionConfig Protection,
    DiscoveryConfig Discovery)
{
    /// <summary><c>tls</c>: TLS to the destinations; null for plain HTTP.</summary>
    public UpstreamTls? Tls { get; init; }

    /// <summary>HTTP/2 to the destinations (<c>protocol = "h2"</c> or <c>"h2c"</c>); null for HTTP/1.1.</summary>
    public UpstreamHttp2? Http2 { get; init; }
}

/// <summary>An upstream's <c>dns_srv</c> and <c>targets_file</c> (an absolute path); both null when its targets are all in the config.</summary>
public sealed record DiscoveryConfig(string? DnsSrv, string? TargetsFile);

/// <summary>An upstream's <c>circuit_breaker</c> and its caps on in-flight and waiting requests (0: no cap).</summary>
public sealed record UpstreamProtectionConfig(CircuitBreakerSettings? CircuitBreaker, int MaxInFlight, int MaxPending);

/// <summary>One of an upstream's <c>targets</c>: an address and its share of the traffic.</summary>
public sealed record TargetConfig(string Address, int Weight, SourceLocation Location);

/// <summary><c>[routes.NAME]</c></summary>
public sealed record RouteConfig(
    string Name,
    SourceLocation Location,
    string? Host,
    string? Path,
    string? PathPrefix,
    IReadOnlyList<string> Methods,
    IReadOnlyList<PredicateConfig> Predicates,
    int Priority,
    string? Upstream,
    bool StripPrefix,
    string? RewritePrefix,
    bool PreserveHost,
    DirectResponseConfig? Respond,
    IReadOnlyList<string> RateLimits,
    IReadOnlyList<string> Auth,
    RequireConfig Require,
    IpFilterConfig Access,
    CorsConfig? Cors,
    RouteTrafficConfig Traffic,
    bool? KeepEncodedSlashes = null)
{
    /// <summary><c>require_client_cert</c>: 403 unless the connection presented a verified client certificate.</summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary><c>forward_client_cert</c>: send the client certificate upstream in Client-Cert (RFC 9440).</summary>
    public bool ForwardClientCertificate { get; init; }

    /// <summary><c>cache = true | { ... }</c>: responses are cached; null when the route does not cache.</summary>
    public RouteCacheSettings? Cache { get; init; }

    /// <summary><c>rewrite</c>: the upstream path built from the route's path parameters; null when not rewritten.</summary>
    public string? Rewrite { get; init; }

    /// <summary><c>request_headers</c>, <c>response_headers</c>, <c>request_query</c>.</summary>
    public RouteTransformsConfig Transforms { get; init; } = RouteTransformsConfig.None;

    /// <summary><c>compress</c>: responses compressed (and request bodies decompressed); null when not.</summary>
    public CompressConfig? Compress { get; init; }

    /// <summary><c>validate</c>: requests (and responses) checked against a JSON Schema; null when not.</summary>
    public ValidateConfig? Validate { get; init; }

    /// <summary><c>version_by</c>, <c>default_version</c>, <c>versions</c>: an API with versions on one route; null when not.</summary>
    public VersioningConfig? Versioning { get; init; }
}

/// <summary><c>[cache]</c>: the bounds of the response store.</summary>
public sealed record CacheConfig(long MaxSize, long MaxObjectSize, TimeSpan CoalesceTimeout)
{
    public static CacheConfig Default { get; } = new(64L * 1024 * 1024, 1024 * 1024, TimeSpan.FromSeconds(5));

    /// <summary><c>redis = …</c>: the tier shared by a fleet of instances; null without one.</summary>
    public FleetCacheConfig? Fleet { get; init; }
}

/// <summary>
/// <c>[cache] redis</c>, <c>redis_timeout</c>, <c>redis_max_object_size</c> and <c>redis_key_prefix</c>: a second
/// tier in a shared Redis, so that a fleet fetches an object from its origin once.
/// </summary>
public sealed record FleetCacheConfig(string Redis, TimeSpan Timeout, long MaxObjectSize, string KeyPrefix)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromSeconds(1);
    public const long DefaultMaxObjectSize = 256 * 1024;
    public const string DefaultKeyPrefix = "hypergate:cache:";
}

/// <summary>A route's traffic keys: <c>retries</c>, <c>timeout</c>, <c>response_timeout</c>, <c>fallback</c>, <c>split</c> and <c>mirror</c>.</summary>
public sealed record RouteTrafficConfig(
    RetryConfig? Retries,
    TimeSpan Timeout,
    TimeSpan? ResponseTimeout,
    FallbackConfig? Fallback,
    IReadOnlyList<KeyValuePair<string, int>> Split,
    string? Mirror,
    long BodyBuffer);

/// <summary><c>retries = { attempts, on, budget_percent, backoff, max_backoff, non_idempotent }</c></summary>
public sealed record RetryConfig(int Attempts, RetryOn On, IReadOnlyList<int> Statuses, double BudgetPercent, TimeSpan Backoff, TimeSpan MaxBackoff, bool NonIdempotent);

/// <summary><c>fallback = "UPSTREAM"</c> or <c>fallback = { status, body, content_type }</c>: what answers while the upstream's circuit is open.</summary>
public sealed record FallbackConfig(string? Upstream, DirectResponseConfig? Respond);

/// <summary>A route's <c>require = { scopes = [...], claims = { NAME = [...] } }</c>.</summary>
public sealed record RequireConfig(IReadOnlyList<string> Scopes, IReadOnlyList<KeyValuePair<string, string[]>> Claims)
{
    public static RequireConfig None { get; } = new([], []);
}

/// <summary><c>respond = { status = 503, body = "...", content_type = "..." }</c></summary>
public sealed record DirectResponseConfig(int Status, string Body, string ContentType);

/// <summary><c>[rate_limits.NAME]</c></summary>
public sealed record RateLimitConfig(
    string Name,
    SourceLocation Location,
    IReadOnlyList<RateLimitKeyPart> Key,
    RateLimitAlgorithm Algorithm,
    long Rate,
    TimeSpan Per,
    long Burst,
    bool ClusterScope,
    long Batch,
    StoreFailureMode OnStoreFailure,
    bool Headers,
    int MaxKeys);

/// <summary><c>[cluster]</c>: what gateway instances share. <see cref="Redis"/> is null when nothing is shared.</summary>
public sealed record ClusterConfig(string? Redis, int Instances, string KeyPrefix)
{
    public static ClusterConfig None { get; } = new(null, 1, "hypergate");
}

/// <summary><c>[consumers.NAME]</c>: credentials stored hashed, and claims.</summary>
public sealed record ConsumerConfig(
    string Name,
    SourceLocation Location,
    IReadOnlyList<byte[]> ApiKeyHashes,
    string? BasicUser,
    string? BasicPasswordHash,
    IReadOnlyList<KeyValuePair<string, string[]>> Claims)
{
    /// <summary><c>client_cert</c>: the client certificates (mTLS) that prove this consumer.</summary>
    public IReadOnlyList<ClientCertificateMatch> ClientCertificates { get; init; } = [];
}

public enum AuthType
{
    ApiKey,
    Jwt,
    Basic,
    ClientCert,
}

/// <summary><c>[auth.NAME]</c>: one way to authenticate; which keys apply depends on the type.</summary>
public sealed record AuthConfig(
    string Name,
    SourceLocation Location,
    AuthType Type,
    string? Header,
    string? Query,
    string? Issuer,
    IReadOnlyList<string> Audiences,
    string? JwksFile,
    string? JwksUrl,
    TimeSpan JwksRefresh,
    IReadOnlyList<string> Algorithms,
    TimeSpan ClockSkew,
    string ConsumerClaim,
    string? Secret,
    TimeSpan CacheTtl);

/// <summary><c>[identity]</c>: the header fields that carry the caller's identity upstream.</summary>
public sealed record IdentityConfig(string? ConsumerHeader, IReadOnlyList<KeyValuePair<string, string>> ClaimHeaders)
{
    public static IdentityConfig Default { get; } = new("X-Consumer-Id", []);
}
