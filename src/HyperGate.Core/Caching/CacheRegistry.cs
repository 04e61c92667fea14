using HyperGate.Configuration;

namespace HyperGate.Caching;

/// <summary>
/// Owns the response store across reloads: a config whose <c>[cache]</c> did not change keeps the store (and
/// everything in it); a changed one starts an empty store once the reload commits.
/// </summary>
public sealed class CacheRegistry
{
    private (CacheStore Store, CacheConfig Config)? _current;
    private (CacheStore Store, CacheConfig Config)? _next;

    /// <summary>The store the running config uses; null until one compiled.</summary>
    public CacheStore? Current => _current?.Store;

    /// <summary>The store for a config being compiled: the running one when its bounds are the same.</summary>
    public CacheStore StoreFor(CacheConfig config)
    {
        if (_current is { } current && current.Config == config)
        {
            return current.Store;
        }

        if (_next is not { } next || next.Config != config)
        {
            _next = next = (new CacheStore(config.MaxSize, config.MaxObjectSize), config);
        }

        return next.Store;
    }

    public void Commit()
    {
        _current = _next ?? _current;
        _next = null;
    }

    public void Abandon() => _next = null;
}
