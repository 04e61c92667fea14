using HyperGate.Caching;
using HyperGate.Http1;
using System.Text;

namespace HyperGate.Configuration;

/// <summary><c>[cache]</c> (the store) and a route's <c>cache = true | { ... }</c>.</summary>
public static partial class ConfigLoader
{
    private static CacheConfig ReadCache(ConfigReader? cache)
    {
        if (cache is null)
        {
            return CacheConfig.Default;
        }

        long maxSize = cache.Size("max_size", CacheConfig.Default.MaxSize, 1024 * 1024, 1L << 40);
        long maxObjectSize = cache.Size("max_object_size", CacheConfig.Default.MaxObjectSize, 1, 1L << 36);
        if (maxObjectSize > maxSize / 2)
        {
            cache.Error("max_object_size", "must be at most half of max_size", "raise max_size or lower max_object_size");
        }

        TimeSpan coalesceTimeout = cache.Duration("coalesce_timeout", CacheConfig.Default.CoalesceTimeout);
        FleetCacheConfig? fleet = ReadFleetCache(cache, maxObjectSize);
        cache.RejectUnknownKeys();
        return new CacheConfig(maxSize, maxObjectSize, coalesceTimeout) { Fleet = fleet };
    }

    /// <summary><c>redis</c> and its <c>redis_*</c> keys: the fleet tier, or null without one.</summary>
    private static FleetCacheConfig? ReadFleetCache(ConfigReader cache, long maxObjectSize)
    {
        string? redis = cache.String("redis");
        if (redis is not null && redis.Trim().Length == 0)
        {
            cache.Error("redis", "is empty", "write a StackExchange.Redis configuration string such as \"127.0.0.1:6379\"");
        }

        TimeSpan timeout = cache.Duration("redis_timeout", FleetCacheConfig.DefaultTimeout);
        if (timeout > FleetCacheConfig.MaxTimeout)
        {
            cache.Error("redis_timeout", $"{timeout.TotalMilliseconds:0}ms is longer than a lookup may hold a request", $"use at most {FleetCacheConfig.MaxTimeout.TotalMilliseconds:0}ms; the tier is skipped when Redis is slower");
        }

        long maxFleetObject = cache.Size("redis_max_object_size", Math.Min(FleetCacheConfig.DefaultMaxObjectSize, maxObjectSize), 1, 1L << 29);
        if (maxFleetObject > maxObjectSize)
        {
            cache.Error("redis_max_object_size", "must be at most max_object_size", "an object the store does not keep is not shared either");
        }

        string keyPrefix = cache.String("redis_key_prefix", FleetCacheConfig.DefaultKeyPrefix)!;
        return string.IsNullOrWhiteSpace(redis) ? null : new FleetCacheConfig(redis, timeout, maxFleetObject, keyPrefix);
    }

    /// <summary>A route's <c>cache</c>: null when it does not cache.</summary>
    private static RouteCacheSettings? ReadRouteCache(ConfigReader route)
    {
        if (!route.IsTable("cache"))
        {
            return route.Bool("cache", false) ? RouteCacheSettings.Default : null;
        }

        ConfigReader cache = route.Table("cache")!;
        TimeSpan? defaultTtl = cache.Has("default_ttl") ? cache.Duration("default_ttl", TimeSpan.Zero) : null;
        bool sortQuery = cache.Bool("sort_query", false);
        List<string> ignoreQuery = [.. cache.StringList("ignore_query").Select(q => q.Value)];
        var keyHeaders = new List<string>();
        foreach ((string name, SourceLocation location) in cache.StringList("key_headers"))
        {
            if (!HttpCharacters.IsToken(Encoding.ASCII.GetBytes(name)))
            {
                cache.ErrorAt(location, "key_headers", $"\"{name}\" is not a field name", "name request fields such as \"Accept-Language\"");
                continue;
            }

            keyHeaders.Add(name);
        }

        bool storeSetCookie = cache.Bool("store_set_cookie", false);
        bool keyConsumer = cache.Bool("key_consumer", false);
        TimeSpan staleIfError = cache.Has("stale_if_error") ? cache.Duration("stale_if_error", TimeSpan.Zero) : TimeSpan.Zero;
        cache.RejectUnknownKeys();
        return new RouteCacheSettings(defaultTtl, sortQuery, ignoreQuery, keyHeaders, storeSetCookie, staleIfError, keyConsumer);
    }
}
