using HyperGate.Caching.Fleet;
using HyperGate.Configuration;

namespace HyperGate.Caching;

/// <summary>
/// Owns the response store (and the fleet tier beside it) across reloads: a config whose <c>[cache]</c> did not
/// change keeps the store (and everything in it); a changed one starts an empty store once the reload commits.
/// </summary>
public sealed class CacheRegistry(TimeProvider time) : IAsyncDisposable
{
    private Tiers? _current;
    private Tiers? _next;
    private bool _started;

    /// <summary>The store the running config uses; null until one compiled.</summary>
    public CacheStore? Current => _current?.Store;

    /// <summary>The running config's fleet tier, when it has one.</summary>
    public FleetTier? CurrentFleet => _current?.Fleet;

    /// <summary>The store and fleet tier for a config being compiled: the running ones when its <c>[cache]</c> is the same.</summary>
    public (CacheStore Store, FleetTier? Fleet) For(CacheConfig config)
    {
        if (_current is { } current && current.Config == config)
        {
            return (current.Store, current.Fleet);
        }

        if (_next is not { } next || next.Config != config)
        {
            var store = new CacheStore(config.MaxSize, config.MaxObjectSize);
            _next = next = new Tiers(store, config.Fleet is { } fleet ? new FleetTier(fleet, store, time) : null, config);
        }

        return (next.Store, next.Fleet);
    }

    public void Commit()
    {
        if (_next is { } next)
        {
            Tiers? replaced = _current;
            _current = next;
            if (_started)
            {
                next.Fleet?.Start();
            }

            if (replaced?.Fleet is { } old)
            {
                // Requests of the old config may still be asking it; it answers them or times out, then closes.
                _ = old.DisposeAsync().AsTask();
            }
        }

        _next = null;
    }

    public void Abandon() => _next = null;

    /// <summary>A serving gateway's tiers connect (a config only being checked never reaches Redis); later configs' tiers connect as they commit.</summary>
    public void Start()
    {
        _started = true;
        _current?.Fleet?.Start();
    }

    public async ValueTask DisposeAsync()
    {
        if (_current?.Fleet is { } fleet)
        {
            await fleet.DisposeAsync();
        }
    }

    private sealed record Tiers(CacheStore Store, FleetTier? Fleet, CacheConfig Config);
}
