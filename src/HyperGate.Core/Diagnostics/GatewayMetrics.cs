using System.Diagnostics;
using System.Diagnostics.Metrics;
using HyperGate.Caching;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Http2;
using HyperGate.RateLimiting;
using HyperGate.Security;
using HyperGate.Resilience;
using HyperGate.Routing;
using HyperGate.Tls;
using HyperGate.Upstreams;
using HyperGate.Upstreams.Health;

namespace HyperGate.Diagnostics;

/// <summary>
/// The gateway's instruments (System.Diagnostics.Metrics, meter "HyperGate"). Every label value comes from a
/// bounded set: route, upstream, limit and destination names from the config, status classes, and enum names.
/// Raw paths and client addresses never become labels. Counters the data plane already keeps (pools, rate
/// limits, connections) are observed when collected instead of being counted twice.
/// </summary>
public sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "HyperGate";

    /// <summary>Histogram bucket bounds in seconds, from 100 µs (gateway overhead) to 30 s (slow upstreams).</summary>
    public static readonly double[] DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>The route label of requests that matched no route.</summary>
    public const string NoRoute = "none";

    private static readonly string[] StatusClasses = ["1xx", "1xx", "2xx", "3xx", "4xx", "5xx"];
    private static readonly string[] RejectionNames = Enum.GetNames<RejectionReason>().Select(ToSnakeCase).ToArray();
    private static readonly string[] CacheEventNames = Enum.GetNames<CacheEvent>().Select(ToSnakeCase).ToArray();
    private static readonly string[] AuthFailureNames = Enum.GetNames<AuthFailure>().Select(ToSnakeCase).ToArray();

    private readonly Meter _meter = new(MeterName, typeof(GatewayMetrics).Assembly.GetName().Version?.ToString());
    private readonly Counter<long> _grpcResponses;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _upstreamDuration;
    private readonly Histogram<double> _overhead;
    private readonly Counter<long> _bytesIn;
    private readonly Counter<long> _bytesOut;
    private readonly Counter<long> _rejections;
    private readonly Counter<long> _authFailures;
    private readonly long[] _reloads = new long[Enum.GetValues<ReloadOutcome>().Length];
    private readonly long[] _tlsHandshakes = new long[Enum.GetValues<TlsHandshakeResult>().Length];
    private readonly long[] _http2Events = new long[Enum.GetValues<Http2Event>().Length];
    private long _downstreamConnections;
    private long _clientCloses;

    public GatewayMetrics(Func<GatewaySnapshot> snapshot, Func<long> timestamp, Func<long> accessLogDropped, RequestMirror mirror)
    {
        _requests = _meter.CreateCounter<long>("hypergate.requests", "{request}", "Requests answered, by route, upstream, status class and protocol.");
        _grpcResponses = _meter.CreateCounter<long>("hypergate.grpc.responses", "{call}", "gRPC calls answered, by route and grpc-status (the service's, or the gateway's own).");
        _duration = _meter.CreateHistogram<double>("hypergate.request.duration", "s", "Time from the parsed request head to the end of the response.");
        _upstreamDuration = _meter.CreateHistogram<double>("hypergate.upstream.duration", "s", "Time from sending the request head upstream to the response head.");
        _overhead = _meter.CreateHistogram<double>("hypergate.gateway.overhead", "s", "Request duration minus upstream duration: the gateway's own time plus body transfer.");
        _bytesIn = _meter.CreateCounter<long>("hypergate.request.body.bytes", "By", "Request body bytes received from clients.");
        _bytesOut = _meter.CreateCounter<long>("hypergate.response.body.bytes", "By", "Response body bytes sent to clients.");
        _rejections = _meter.CreateCounter<long>("hypergate.rejections", "{request}", "Requests the gateway answered itself with an error, by reason.");
        _authFailures = _meter.CreateCounter<long>("hypergate.auth.failures", "{request}", "Requests refused by authentication or authorization, by route and reason.");
        // Observed rather than added, so that every result is exported from the start, at 0.
        _meter.CreateObservableCounter("hypergate.tls.handshakes", ObserveTlsHandshakes, "{handshake}", "TLS handshakes on HTTPS listeners, by result: succeeded, timeout, plain_http, not_tls, client_closed, unknown_server_name, client_certificate_refused or failed.");
        _meter.CreateObservableCounter("hypergate.http2.errors", ObserveHttp2Events, "{event}", "HTTP/2 streams reset and connections closed by the gateway, by reason: protocol_violation, malformed_request, compression_error, flow_control_violation, stream_refused, header_block_too_large, rapid_reset, control_frame_flood or send_timeout.");
        _meter.CreateObservableGauge("hypergate.tls.certificate.expiry", () => ObserveCertificateExpiry(snapshot()), "s", "Seconds until each [tls] certificate expires, by its first name.");
        _meter.CreateObservableCounter("hypergate.config.reloads", ObserveReloads, "{reload}", "Config reloads, by result: applied, unchanged (the file had not changed) or refused.");
        _meter.CreateObservableUpDownCounter("hypergate.downstream.connections", () => Volatile.Read(ref _downstreamConnections), "{connection}", "Open client connections.");
        _meter.CreateObservableCounter("hypergate.downstream.client_closes", () => Volatile.Read(ref _clientCloses), "{connection}", "Client connections the client closed or reset while no request was under way: between requests, or before a request line was whole.");
        _meter.CreateObservableGauge("hypergate.upstream.connections", () => ObservePools(snapshot()), "{connection}", "Upstream connections per destination, by state (idle or active).");
        _meter.CreateObservableGauge("hypergate.upstream.in_flight", () => ObserveDestinations(snapshot(), d => d.InFlight), "{request}", "Requests in flight per destination.");
        _meter.CreateObservableGauge("hypergate.upstream.circuit_open", () => ObserveCircuits(snapshot()), null, "1 while an upstream's circuit breaker is open or half-open, else 0 (upstreams with a breaker).");
        _meter.CreateObservableGauge("hypergate.upstream.healthy", () => ObserveDestinations(snapshot(), d => d.HealthAt(timestamp()) == DestinationHealth.Healthy ? 1 : 0), null, "1 while a destination is in its balancer's set: passing health checks and not ejected.");
        _meter.CreateObservableCounter("hypergate.rate_limit.decisions", () => ObserveRateLimits(snapshot()), "{request}", "Rate limit decisions per limit: allowed, limited (429), or unavailable (503: a cluster limit's store is down in deny mode).");
        _meter.CreateObservableCounter("hypergate.mirror.requests", () => (IEnumerable<Measurement<long>>)
        [
            new(mirror.Sent, new KeyValuePair<string, object?>("result", "answered")),
            new(mirror.Failed, new KeyValuePair<string, object?>("result", "failed")),
            new(mirror.Dropped, new KeyValuePair<string, object?>("result", "dropped")),
        ], "{request}", "Mirrored request copies, by result: answered, failed (no answer), dropped (the mirror fell behind).");
        _meter.CreateObservableCounter("hypergate.cache.lookups", () => ObserveCacheLookups(snapshot()), "{request}", "Requests on caching routes, by route and result: hit (answered from the store) or miss (forwarded).");
        _meter.CreateObservableCounter("hypergate.cache.events", () => ObserveCache(snapshot()), "{event}", "What the cache did, by kind: stored, stale_served, revalidated (the origin answered 304), revalidation_changed, coalesced (a miss that waited for another), passed (not looked up: unsafe methods, ranges), evicted.");
        _meter.CreateObservableGauge("hypergate.cache.bytes", () => StoreOf(snapshot())?.Bytes ?? 0, "By", "Bytes the response store holds (heads, bodies and bookkeeping), at most [cache] max_size.");
        _meter.CreateObservableGauge("hypergate.cache.objects", () => StoreOf(snapshot())?.Objects ?? 0, "{object}", "URLs the response store holds (each with its variants).");
        _meter.CreateObservableCounter("hypergate.access_log.dropped", accessLogDropped, "{entry}", "Access log entries dropped because the writer's queue was full.");
    }

    private static CacheStore? StoreOf(GatewaySnapshot snapshot) => snapshot.Routes.Routes.Select(r => r.Cache?.Store).FirstOrDefault(s => s is not null);

    private static IEnumerable<Measurement<long>> ObserveCacheLookups(GatewaySnapshot snapshot)
    {
        foreach (Route route in snapshot.Routes.Routes)
        {
            if (route.Cache is { Counters: var counters })
            {
                yield return new Measurement<long>(counters.Hits, new("route", route.Name), new("result", "hit"));
                yield return new Measurement<long>(counters.Misses, new("route", route.Name), new("result", "miss"));
            }
        }
    }

    private static IEnumerable<Measurement<long>> ObserveCache(GatewaySnapshot snapshot)
    {
        if (StoreOf(snapshot) is not { Counters: var counters })
        {
            yield break;
        }

        foreach (CacheEvent kind in Enum.GetValues<CacheEvent>())
        {
            yield return new Measurement<long>(counters[kind], new KeyValuePair<string, object?>("kind", CacheEventNames[(int)kind]));
        }
    }

    /// <summary>True for this instance's instruments: every gateway in a process has a meter of the same name.</summary>
    public bool Owns(Instrument instrument) => instrument.Meter == _meter || instrument.Meter == PolicyMetrics.Meter;

    public void ConnectionOpened() => Interlocked.Increment(ref _downstreamConnections);

    public void ConnectionClosed() => Interlocked.Decrement(ref _downstreamConnections);

    /// <summary>A client closed or reset its connection while no request was under way.</summary>
    public void ClientClosed() => Interlocked.Increment(ref _clientCloses);

    public void CountReload(ReloadOutcome outcome) => Interlocked.Increment(ref _reloads[(int)outcome]);

    public void CountTlsHandshake(TlsHandshakeResult result) => Interlocked.Increment(ref _tlsHandshakes[(int)result]);

    /// <summary>A stream reset or connection closed by the gateway for an HTTP/2 violation or abuse.</summary>
    public void CountHttp2(Http2Event reason) => Interlocked.Increment(ref _http2Events[(int)reason]);

    private IEnumerable<Measurement<long>> ObserveHttp2Events()
    {
        foreach (Http2Event reason in Enum.GetValues<Http2Event>())
        {
            yield return new Measurement<long>(Volatile.Read(ref _http2Events[(int)reason]), new KeyValuePair<string, object?>("reason", ToSnakeCase(reason.ToString())));
        }
    }

    private IEnumerable<Measurement<long>> ObserveTlsHandshakes()
    {
        foreach (TlsHandshakeResult result in Enum.GetValues<TlsHandshakeResult>())
        {
            yield return new Measurement<long>(Volatile.Read(ref _tlsHandshakes[(int)result]), new KeyValuePair<string, object?>("result", ToSnakeCase(result.ToString())));
        }
    }

    private static IEnumerable<Measurement<double>> ObserveCertificateExpiry(GatewaySnapshot snapshot)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (ServerCertificate certificate in snapshot.Config.Tls.Certificates)
        {
            yield return new Measurement<double>(Math.Round((certificate.NotAfter - now).TotalSeconds), new KeyValuePair<string, object?>("name", certificate.Names[0]));
        }
    }

    private IEnumerable<Measurement<long>> ObserveReloads()
    {
        foreach (ReloadOutcome outcome in Enum.GetValues<ReloadOutcome>())
        {
            yield return new Measurement<long>(Volatile.Read(ref _reloads[(int)outcome]), new KeyValuePair<string, object?>("result", ToSnakeCase(outcome.ToString())));
        }
    }

    /// <summary>A gRPC call's grpc-status, as the client got it.</summary>
    public void CountGrpc(string? route, int grpcStatus) =>
        _grpcResponses.Add(1, new KeyValuePair<string, object?>("route", route ?? NoRoute), new KeyValuePair<string, object?>("grpc_status", (uint)grpcStatus < GrpcStatusNames.Length ? GrpcStatusNames[grpcStatus] : "other"));

    /// <summary>The names gRPC gives its status codes 0 to 16, as label values.</summary>
    private static readonly string[] GrpcStatusNames = [.. Enumerable.Range(0, 17).Select(code => code.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>Records a finished request. Allocation-free: tag values are config strings or static names.</summary>
    public void RecordRequest(Exchange exchange, TimeSpan duration, TimeSpan upstream)
    {
        string route = exchange.Route?.Name ?? NoRoute;
        string upstreamName = exchange.UpstreamName ?? NoRoute;
        var routeTag = new KeyValuePair<string, object?>("route", route);
        var upstreamTag = new KeyValuePair<string, object?>("upstream", upstreamName);
        _requests.Add(1, new TagList { routeTag, upstreamTag, { "status_class", StatusClass(exchange.Status) }, { "protocol", exchange.Protocol } });
        _duration.Record(duration.TotalSeconds, routeTag, upstreamTag);
        if (exchange.UpstreamStartTimestamp != 0)
        {
            _upstreamDuration.Record(upstream.TotalSeconds, routeTag, upstreamTag);
            _overhead.Record((duration - upstream).TotalSeconds, routeTag, upstreamTag);
        }

        if (exchange.RequestBodyBytes > 0)
        {
            _bytesIn.Add(exchange.RequestBodyBytes, routeTag);
        }

        if (exchange.ResponseBodyBytes > 0)
        {
            _bytesOut.Add(exchange.ResponseBodyBytes, routeTag);
        }

        if (exchange.Rejection != RejectionReason.None)
        {
            _rejections.Add(1, new KeyValuePair<string, object?>("reason", RejectionNames[(int)exchange.Rejection]));
        }

        if (exchange.AuthFailure != AuthFailure.None)
        {
            _authFailures.Add(1, routeTag, new KeyValuePair<string, object?>("reason", AuthFailureNames[(int)exchange.AuthFailure]));
        }
    }

    /// <summary>"2xx" for 200-299 and so on; a request the client abandoned before any response counts as 4xx (499).</summary>
    private static string StatusClass(int status) => StatusClasses[Math.Clamp(status / 100, 1, 5)];

    /// <summary>The snake_case name of a rejection reason, as labels and the access log show it.</summary>
    public static string RejectionName(RejectionReason reason) => RejectionNames[(int)reason];

    private static IEnumerable<Measurement<long>> ObservePools(GatewaySnapshot snapshot)
    {
        foreach (Upstream upstream in snapshot.Upstreams.Values)
        {
            foreach (Destination destination in upstream.Destinations)
            {
                var upstreamTag = new KeyValuePair<string, object?>("upstream", upstream.Name);
                var destinationTag = new KeyValuePair<string, object?>("destination", destination.Address);
                yield return new Measurement<long>(destination.Pool.IdleCount, upstreamTag, destinationTag, new("state", "idle"));
                yield return new Measurement<long>(destination.Pool.ActiveCount, upstreamTag, destinationTag, new("state", "active"));
            }
        }
    }

    private static IEnumerable<Measurement<long>> ObserveDestinations(GatewaySnapshot snapshot, Func<Destination, long> value)
    {
        foreach (Upstream upstream in snapshot.Upstreams.Values)
        {
            foreach (Destination destination in upstream.Destinations)
            {
                yield return new Measurement<long>(value(destination), new("upstream", upstream.Name), new("destination", destination.Address));
            }
        }
    }

    private static IEnumerable<Measurement<long>> ObserveCircuits(GatewaySnapshot snapshot)
    {
        foreach (Upstream upstream in snapshot.Upstreams.Values)
        {
            if (upstream.Breaker is { } breaker)
            {
                yield return new Measurement<long>(breaker.State == CircuitState.Closed ? 0 : 1, new KeyValuePair<string, object?>("upstream", upstream.Name));
            }
        }
    }

    private static IEnumerable<Measurement<long>> ObserveRateLimits(GatewaySnapshot snapshot)
    {
        foreach (RateLimitPolicy policy in snapshot.RateLimits.Values)
        {
            var limitTag = new KeyValuePair<string, object?>("limit", policy.Name);
            yield return new Measurement<long>(policy.Counters.Allowed, limitTag, new("decision", "allowed"));
            yield return new Measurement<long>(policy.Counters.Limited, limitTag, new("decision", "limited"));
            yield return new Measurement<long>(policy.Counters.Unavailable, limitTag, new("decision", "unavailable"));
        }
    }

    private static string ToSnakeCase(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    public void Dispose() => _meter.Dispose();
}

/// <summary>How a config reload ended.</summary>
public enum ReloadOutcome
{
    Applied,
    Unchanged,
    Refused,
}
