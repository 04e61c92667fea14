using HyperGate.Configuration;
using Microsoft.Extensions.Logging;

namespace HyperGate.RateLimiting;

/// <summary>
/// Builds the limiters of a config and owns what they share: the quota store and its health. A reload keeps
/// the limiter (and so every key's quota) of each limit whose settings did not change: <see cref="Create"/>
/// builds the next generation, <see cref="Commit"/> makes it current, <see cref="Abandon"/> drops it.
/// </summary>
public sealed class RateLimitRegistry : IAsyncDisposable
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<ClusterConfig, IQuotaStore> _storeFactory;
    private Dictionary<string, (RateLimitConfig Config, IRateLimiter Limiter)> _current = new(StringComparer.Ordinal);
    private Dictionary<string, (RateLimitConfig Config, IRateLimiter Limiter)> _next = new(StringComparer.Ordinal);
    private readonly List<IRateLimiter> _created = [];
    private IQuotaStore? _store;
    private StoreHealth? _health;

    public RateLimitRegistry(TimeProvider time, ILogger logger, Func<ClusterConfig, IQuotaStore>? storeFactory = null)
    {
        _time = time;
        _logger = logger;
        _storeFactory = storeFactory ?? (cluster => new RedisQuotaStore(cluster.Redis!, cluster.KeyPrefix));
    }

    /// <summary>Whether cluster limits can reach their store; true when there is none.</summary>
    public bool StoreAvailable => _health?.IsUp ?? true;

    /// <summary>Completes when the store is reachable again after an outage (at once when it is).</summary>
    public Task StoreAvailableAsync => _health?.Available ?? Task.CompletedTask;

    /// <summary>
    /// Connects to the quota store, if cluster limits use one, so that the first leases do not pay for the
    /// connection. A store that cannot be reached starts the gateway in its outage mode, logged once.
    /// </summary>
    public async Task ConnectAsync()
    {
        if (_store is null)
        {
            return;
        }

        try
        {
            await _store.PingAsync();
            _logger.LogInformation("rate limit store connected");
        }
        catch (Exception e)
        {
            _health!.ReportFailure(e);
        }
    }

    /// <summary>The policy of one limit in the next generation: the current limiter when its settings are unchanged.</summary>
    public RateLimitPolicy Create(RateLimitConfig config, ClusterConfig cluster)
    {
        IRateLimiter limiter;
        if (_current.TryGetValue(config.Name, out var current) && SameLimit(current.Config, config))
        {
            limiter = current.Limiter;
        }
        else
        {
            limiter = config.ClusterScope ? CreateCluster(config, cluster) : CreateLocal(config, config.Rate, config.Burst);
            _created.Add(limiter);
        }

        _next[config.Name] = (config, limiter);
        return new RateLimitPolicy(config.Name, config.Key, config.Rate, config.Per, config.Headers, limiter);
    }

    private LocalRateLimiter CreateLocal(RateLimitConfig config, long rate, long burst)
    {
        LimitAlgorithmSettings settings = LimitAlgorithmSettings.Create(config.Algorithm, rate, config.Per, burst, _time.TimestampFrequency, _time.GetTimestamp());
        return new LocalRateLimiter(settings, config.MaxKeys, SweepInterval(config.Per), _time);
    }

    private ClusterRateLimiter CreateCluster(RateLimitConfig config, ClusterConfig cluster)
    {
        _store ??= _storeFactory(cluster);
        _health ??= new StoreHealth(_store, _logger, _time, ProbeInterval);

        // While the store is down each instance keeps its share of the limit on its own.
        int instances = cluster.Instances;
        LocalRateLimiter fallback = CreateLocal(config, DivideUp(config.Rate, instances), DivideUp(config.Burst, instances));
        var shared = new SharedLimit(config.Name, config.Algorithm, config.Rate, config.Per, config.Burst);
        return new ClusterRateLimiter(shared, config.Batch, _store, _health, config.OnStoreFailure, fallback, config.MaxKeys, SweepInterval(config.Per), _time);
    }

    /// <summary>The generation built since the last commit becomes current; limiters it no longer uses are disposed.</summary>
    public void Commit()
    {
        foreach ((string name, (_, IRateLimiter limiter)) in _current)
        {
            if (!_next.TryGetValue(name, out var kept) || kept.Limiter != limiter)
            {
                limiter.Dispose();
            }
        }

        _current = _next;
        _next = new(StringComparer.Ordinal);
        _created.Clear();
    }

    /// <summary>Drops the generation built since the last commit (its config was refused); the current one stays.</summary>
    public void Abandon()
    {
        foreach (IRateLimiter limiter in _created)
        {
            limiter.Dispose();
        }

        _next.Clear();
        _created.Clear();
    }

    private static bool SameLimit(RateLimitConfig current, RateLimitConfig next) =>
        current.Key.SequenceEqual(next.Key) && current with { Location = next.Location, Key = next.Key } == next;

    /// <summary>About once per period (within 1 s to 1 min), so an idle key is remembered for two periods at most.</summary>
    private static TimeSpan SweepInterval(TimeSpan per) => TimeSpan.FromTicks(Math.Clamp(per.Ticks, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));

    private static long DivideUp(long value, int parts) => Math.Max(1, (value + parts - 1) / parts);

    public async ValueTask DisposeAsync()
    {
        Abandon();
        foreach ((_, IRateLimiter limiter) in _current.Values)
        {
            limiter.Dispose();
        }

        _health?.Dispose();
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }
}
