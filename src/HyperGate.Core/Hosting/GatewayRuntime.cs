using HyperGate.Configuration;
using HyperGate.Forwarding;
using HyperGate.RateLimiting;
using HyperGate.Security;
using HyperGate.Upstreams;
using Microsoft.Extensions.Logging;

namespace HyperGate.Hosting;

/// <summary>The state shared by every connection: the current snapshot, the upstream pools and the counters.</summary>
public sealed class GatewayRuntime : IAsyncDisposable
{
    private GatewaySnapshot _snapshot;
    private long _requests;

    public GatewayRuntime(GatewaySnapshot snapshot, UpstreamConnectionManager connections, RateLimitRegistry rateLimits, AuthRegistry auth, TimeProvider timeProvider)
    {
        Auth = auth;
        _snapshot = snapshot;
        Connections = connections;
        RateLimits = rateLimits;
        TimeProvider = timeProvider;
        Date = new DateHeader(timeProvider);
    }

    /// <summary>
    /// Compiles <paramref name="config"/> into a runtime that owns everything the snapshot uses: upstream pools,
    /// rate limiters and their store, authenticators and their key sources. Disposing the runtime releases them.
    /// </summary>
    public static GatewayRuntime Create(GatewayConfig config, TimeProvider timeProvider, ILoggerFactory loggers, Func<ClusterConfig, IQuotaStore>? quotaStores = null)
    {
        var connections = new UpstreamConnectionManager(timeProvider);
        var rateLimits = new RateLimitRegistry(timeProvider, loggers.CreateLogger("HyperGate.RateLimiting"), quotaStores);
        var auth = new AuthRegistry(timeProvider, loggers.CreateLogger("HyperGate.Security"));
        try
        {
            return new GatewayRuntime(ConfigCompiler.Compile(config, connections, rateLimits, auth), connections, rateLimits, auth, timeProvider);
        }
        catch
        {
            auth.Dispose();
            rateLimits.DisposeAsync().AsTask().GetAwaiter().GetResult();
            connections.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    /// <summary>The snapshot new requests use; read once per request.</summary>
    public GatewaySnapshot Snapshot => Volatile.Read(ref _snapshot);

    public UpstreamConnectionManager Connections { get; }

    public RateLimitRegistry RateLimits { get; }

    public AuthRegistry Auth { get; }

    public TimeProvider TimeProvider { get; }

    public DateHeader Date { get; }

    /// <summary>Requests answered since start (forwarded or answered by the gateway).</summary>
    public long RequestCount => Interlocked.Read(ref _requests);

    internal void CountRequest() => Interlocked.Increment(ref _requests);

    /// <summary>Publishes a new snapshot with one reference write; requests in flight keep theirs.</summary>
    public void Swap(GatewaySnapshot snapshot) => Volatile.Write(ref _snapshot, snapshot);

    public async ValueTask DisposeAsync()
    {
        Date.Dispose();
        await RateLimits.DisposeAsync();
        Auth.Dispose();
        await Connections.DisposeAsync();
    }
}
