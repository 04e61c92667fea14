using HyperGate.Configuration;
using HyperGate.Diagnostics;
using HyperGate.Forwarding;
using HyperGate.RateLimiting;
using HyperGate.Security;
using HyperGate.Http1;
using HyperGate.Routing;
using HyperGate.Upstreams;

namespace HyperGate.Hosting;

/// <summary>
/// Everything compiled from one config file. Immutable: a reload builds a new snapshot and swaps one reference;
/// a request keeps the snapshot it started with until it finishes.
/// </summary>
public sealed class GatewaySnapshot
{
    public required GatewayConfig Config { get; init; }

    public required RouteTable Routes { get; init; }

    public required IReadOnlyDictionary<string, Upstream> Upstreams { get; init; }

    public required IReadOnlyDictionary<string, RateLimitPolicy> RateLimits { get; init; }

    /// <summary>Peers whose X-Forwarded-For names the client.</summary>
    public required TrustedProxies TrustedProxies { get; init; }

    /// <summary><c>[access]</c>: addresses allowed or denied on every route; null when none.</summary>
    public IpFilter? IpFilter { get; init; }

    /// <summary>The fields that carry identities upstream; null when no authentication is configured.</summary>
    public IdentityHeaders? IdentityHeaders { get; init; }

    /// <summary><c>[request_id]</c>: the field that carries each request's id; null when not configured.</summary>
    public RequestIdSettings? RequestId { get; init; }

    public required DownstreamLimits Limits { get; init; }
}

/// <summary>Limits on what downstream clients may send, from <c>[limits]</c>.</summary>
public sealed record DownstreamLimits(
    HeadLimits Head,
    long MaxBodySize,
    TimeSpan RequestHeadTimeout,
    TimeSpan KeepAliveTimeout,
    long MinBodyRate,
    TimeSpan BodyRateGrace);
