using HyperGate.Caching;
using HyperGate.Configuration;
using HyperGate.Diagnostics;
using HyperGate.Forwarding;
using HyperGate.RateLimiting;
using HyperGate.Security;
using HyperGate.Upstreams;
using Microsoft.Extensions.Logging;

namespace HyperGate.Hosting;

/// <summary>
/// The state shared by every connection: the current snapshot and what outlives snapshots (upstream pools,
/// limiters with their quotas, authenticators, counters). A reload compiles a new snapshot against the same
/// registries, so pools stay warm and unchanged limits keep their state.
/// </summary>
public sealed class GatewayRuntime : IAsyncDisposable
{
    private readonly SemaphoreSlim _reloading = new(1, 1);

    /// <summary>Where responses that break their route's contract (response_schema, "log") are reported.</summary>
    private readonly ILogger _contractLog;
    private GatewaySnapshot _snapshot;
    private long _requests;

    private GatewayRuntime(GatewaySnapshot snapshot, UpstreamConnectionManager connections, RateLimitRegistry rateLimits, AuthRegistry auth, CacheRegistry caches, TimeProvider timeProvider, ILoggerFactory loggers, bool withOutputs, ILogger contractLog)
    {
        _contractLog = contractLog;
        Caches = caches;
        Telemetry = new GatewayTelemetry(snapshot.Config, () => Snapshot, timeProvider, loggers, withOutputs, Mirror);
        Auth = auth;
        _snapshot = snapshot;
        Connections = connections;
        RateLimits = rateLimits;
        TimeProvider = timeProvider;
        Date = new DateHeader(timeProvider);
        StartedAt = timeProvider.GetUtcNow();
    }

    /// <summary>
    /// Compiles <paramref name="config"/> into a runtime that owns everything the snapshot uses: upstream pools,
    /// rate limiters and their store, authenticators and their key sources, telemetry. Disposing the runtime
    /// releases them. Only a runtime <paramref name="withOutputs"/> writes the access log and exports spans.
    /// </summary>
    public static GatewayRuntime Create(GatewayConfig config, TimeProvider timeProvider, ILoggerFactory loggers, Func<ClusterConfig, IQuotaStore>? quotaStores = null, bool withOutputs = false)
    {
        var connections = new UpstreamConnectionManager(timeProvider, loggers.CreateLogger("HyperGate.Upstreams"));
        var rateLimits = new RateLimitRegistry(timeProvider, loggers.CreateLogger("HyperGate.RateLimiting"), quotaStores);
        var auth = new AuthRegistry(timeProvider, loggers.CreateLogger("HyperGate.Security"));
        var caches = new CacheRegistry(timeProvider);
        ILogger contractLog = loggers.CreateLogger("HyperGate.Validation");
        try
        {
            GatewaySnapshot snapshot = ConfigCompiler.Compile(config, connections, rateLimits, auth, caches, contractLog);
            rateLimits.Commit();
            auth.Commit();
            caches.Commit();
            connections.Retain(snapshot.Upstreams.Values);
            return new GatewayRuntime(snapshot, connections, rateLimits, auth, caches, timeProvider, loggers, withOutputs, contractLog);
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

    /// <summary>The response store, kept across reloads that leave <c>[cache]</c> as it was.</summary>
    public CacheRegistry Caches { get; }

    public TimeProvider TimeProvider { get; }

    public DateHeader Date { get; }

    public GatewayTelemetry Telemetry { get; }

    /// <summary>Sends the copies of requests that routes with <c>mirror</c> ask for.</summary>
    public RequestMirror Mirror { get; } = new();

    public DateTimeOffset StartedAt { get; }

    /// <summary>Requests answered since start (forwarded or answered by the gateway).</summary>
    public long RequestCount => Interlocked.Read(ref _requests);

    internal void CountRequest() => Interlocked.Increment(ref _requests);

    /// <summary>
    /// Compiles <paramref name="config"/> off the hot path and publishes it with one reference write. Requests
    /// in flight finish on the snapshot they started with; pools of destinations that left the config drain.
    /// Throws <see cref="ConfigException"/> when the config does not compile, or when <paramref name="beforeSwap"/>
    /// (the host opening new listen addresses) throws it: the current one keeps serving.
    /// </summary>
    public async Task ReloadAsync(GatewayConfig config, Func<Task>? beforeSwap = null)
    {
        await _reloading.WaitAsync();
        try
        {
            GatewaySnapshot next;
            try
            {
                next = ConfigCompiler.Compile(config, Connections, RateLimits, Auth, Caches, _contractLog);

                // New key sets, the quota store and newly discovered destinations are ready before the first request needs them.
                await Task.WhenAll(RateLimits.ConnectAsync(), Auth.LoadNextKeysAsync(), Connections.PrepareDiscoveryAsync(next.Upstreams.Values));
                if (beforeSwap is not null)
                {
                    await beforeSwap();
                }
            }
            catch
            {
                RateLimits.Abandon();
                Auth.Abandon();
                Caches.Abandon();
                Connections.Retain(Snapshot.Upstreams.Values);
                throw;
            }

            Volatile.Write(ref _snapshot, next);
            RateLimits.Commit();
            Auth.Commit();
            Caches.Commit();
            Connections.Retain(next.Upstreams.Values);
        }
        finally
        {
            _reloading.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Date.Dispose();
        await Mirror.DisposeAsync();
        await Telemetry.DisposeAsync();
        await RateLimits.DisposeAsync();
        await Caches.DisposeAsync();
        Auth.Dispose();
        await Connections.DisposeAsync();
    }
}
