using System.Text;
using HyperGate.Configuration;
using HyperGate.Redis;
using StackExchange.Redis;

namespace HyperGate.Caching.Fleet;

/// <summary>
/// <c>[cache] redis = …</c>: a second tier in a shared Redis, so that a fleet of instances fetches an object from
/// its origin once. A local miss asks it before going upstream, for at most <c>redis_timeout</c>; what this instance
/// stores (up to <c>redis_max_object_size</c>) is written to it in the background. A slow or absent Redis costs a
/// miss that timeout at most and never fails a request; a hit never asks it. Purges and invalidations are published
/// to every instance, which apply them to their own stores.
/// </summary>
/// <remarks>
/// Layout: a key's variants are fields of one hash (<c>{prefix}obj:{key}</c>, field = the variant's Vary values
/// and consumer), expiring when the longest-lived variant can no longer be served; a tag is a set of the hashes
/// stored with it (<c>{prefix}tag:{tag}</c>).
/// </remarks>
public sealed class FleetTier : IAsyncDisposable
{
    // The hash keeps the longest retention of its variants; each tag set, the longest of its members.
    private const string PutScript = """
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        local keep = tonumber(ARGV[3])
        for i = 1, #KEYS do
          if i > 1 then redis.call('SADD', KEYS[i], KEYS[1]) end
          if redis.call('TTL', KEYS[i]) < keep then redis.call('EXPIRE', KEYS[i], keep) end
        end
        """;

    private readonly FleetCacheConfig _config;
    private readonly CacheStore _store;
    private readonly TimeProvider _time;
    private readonly ConfigurationOptions _options;
    private readonly RedisChannel _purges;
    private readonly string _instance = Guid.NewGuid().ToString("N");
    private ConnectionMultiplexer? _connection;
    private Task? _connecting;

    public FleetTier(FleetCacheConfig config, CacheStore store, TimeProvider time)
    {
        _config = config;
        _store = store;
        _time = time;
        _options = RedisOptions.FailFast(config.Redis);
        _purges = RedisChannel.Literal(config.KeyPrefix + "purge");
    }

    public FleetCacheConfig Config => _config;

    private CacheCounters Counters => _store.Counters;

    /// <summary>Connects and subscribes to purges in the background (once the config that names the tier is running).</summary>
    public void Start() => _connecting ??= ConnectAsync();

    private async Task ConnectAsync()
    {
        try
        {
            ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(_options);
            Volatile.Write(ref _connection, connection);

            // Kept by the multiplexer and made again whenever it reconnects.
            await connection.GetSubscriber().SubscribeAsync(_purges, (_, message) => Apply(message));
        }
        catch (RedisException)
        {
            // Not there yet: the multiplexer keeps reconnecting, and the subscription is renewed with it.
        }
    }

    private IDatabase? Database => Volatile.Read(ref _connection) is { IsConnected: true } connection ? connection.GetDatabase() : null;

    /// <summary>Whether a lookup would ask Redis now (false while it is away: a miss then goes upstream at once).</summary>
    public bool IsAvailable => Volatile.Read(ref _connection) is { IsConnected: true };

    /// <summary>The variants the fleet holds for <paramref name="key"/>; none when it holds none, is away, or does not answer in time.</summary>
    public async Task<CachedResponse[]> FetchAsync(byte[] key)
    {
        if (Database is not { } database)
        {
            return [];
        }

        Task<HashEntry[]> read = database.HashGetAllAsync(ObjectKey(key));
        HashEntry[] entries;
        try
        {
            entries = await read.WaitAsync(_config.Timeout, _time);
        }
        catch (TimeoutException)
        {
            Counters.Count(CacheEvent.FleetTimeout);
            _ = read.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            return [];
        }
        catch (RedisException)
        {
            Counters.Count(CacheEvent.FleetError);
            return [];
        }

        CachedResponse[] variants = [.. entries.Select(e => FleetCodec.Decode((byte[])e.Value!)).OfType<CachedResponse>()];
        Counters.Count(variants.Length > 0 ? CacheEvent.FleetHit : CacheEvent.FleetMiss);
        return variants;
    }

    /// <summary>
    /// Shares a response this instance stored, in the background, for as long as it may answer: its remaining
    /// freshness plus the staleness it may be served with (RFC 5861, and the route's <c>stale_if_error</c>).
    /// </summary>
    public void Put(byte[] key, CachedResponse response, long now, TimeSpan routeStaleIfError)
    {
        if (response.Size > _config.MaxObjectSize || Database is not { } database)
        {
            return;
        }

        CacheDirectives directives = response.Directives;
        long staleness = Math.Max(Math.Max(directives.StaleWhileRevalidate, directives.StaleIfError), (long)routeStaleIfError.TotalSeconds);
        long keep = response.Times.FreshnessLifetime - response.Times.CurrentAge(now) + Math.Max(0, staleness);
        if (keep <= 0)
        {
            return;
        }

        RedisKey[] keys = [ObjectKey(key), .. response.Tags.Select(TagKey)];
        _ = WriteAsync(database, keys, [FleetCodec.VariantId(response), FleetCodec.Encode(response), keep]);
    }

    private async Task WriteAsync(IDatabase database, RedisKey[] keys, RedisValue[] arguments)
    {
        try
        {
            await database.ScriptEvaluateAsync(PutScript, keys, arguments);
            Counters.Count(CacheEvent.FleetWritten);
        }
        catch (RedisException)
        {
            Counters.Count(CacheEvent.FleetError);
        }
    }

    /// <summary>Removes exact keys from Redis and from every instance's store (§4.4 invalidation, purge by URL); returns how many Redis held.</summary>
    public Task<long> RemoveAsync(IReadOnlyCollection<byte[]> keys) =>
        RunPurgeAsync(async database => keys.Count == 0 ? 0 : await database.KeyDeleteAsync([.. keys.Select(ObjectKey)]), [.. keys.Select(k => Message("key", Encoding.ASCII.GetString(k)))]);

    /// <summary>Removes what <see cref="CachePurge.PrefixMatcher"/> matches, from Redis and from every instance's store.</summary>
    public Task<long> RemovePrefixAsync(string prefix) => RunPurgeAsync(async database =>
    {
        Func<byte[], bool> matches = CachePurge.PrefixMatcher(prefix);
        byte[] objects = Encoding.ASCII.GetBytes(_config.KeyPrefix + "obj:");
        long removed = 0;
        foreach (System.Net.EndPoint endPoint in _connection!.GetEndPoints())
        {
            IServer server = _connection.GetServer(endPoint);
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            var found = new List<RedisKey>();
            await foreach (RedisKey redisKey in server.KeysAsync(pattern: _config.KeyPrefix + "obj:*", pageSize: 1000))
            {
                if (matches(((byte[])redisKey!)[objects.Length..]))
                {
                    found.Add(redisKey);
                }
            }

            removed += found.Count == 0 ? 0 : await database.KeyDeleteAsync([.. found]);
        }

        return removed;
    }, [Message("prefix", prefix)]);

    /// <summary>Removes every object stored with <paramref name="tag"/> (all its variants: the tier is a copy, and a fetch from the origin refills it).</summary>
    public Task<long> RemoveTagAsync(string tag) => RunPurgeAsync(async database =>
    {
        RedisValue[] members = await database.SetMembersAsync(TagKey(tag));
        long removed = members.Length == 0 ? 0 : await database.KeyDeleteAsync([.. members.Select(m => (RedisKey)(byte[])m!)]);
        await database.KeyDeleteAsync(TagKey(tag));
        return removed;
    }, [Message("tag", tag)]);

    private async Task<long> RunPurgeAsync(Func<IDatabase, Task<long>> remove, RedisValue[] messages)
    {
        if (Database is not { } database)
        {
            return 0;
        }

        try
        {
            long removed = await remove(database);
            foreach (RedisValue message in messages)
            {
                await database.PublishAsync(_purges, message);
            }

            return removed;
        }
        catch (RedisException)
        {
            Counters.Count(CacheEvent.FleetError);
            return 0;
        }
    }

    private RedisValue Message(string kind, string value) => $"{_instance}\n{kind}\n{value}";

    /// <summary>Another instance's purge, applied to this instance's store.</summary>
    private void Apply(RedisValue message)
    {
        string[] parts = ((string?)message ?? "").Split('\n', 3);
        if (parts.Length != 3 || parts[0] == _instance)
        {
            return;
        }

        _ = parts[1] switch
        {
            "key" => _store.Remove(Encoding.ASCII.GetBytes(parts[2])),
            "prefix" => CachePurge.ByPrefix(_store, parts[2]),
            "tag" => CachePurge.ByTag(_store, parts[2]),
            _ => 0,
        };
        Counters.Count(CacheEvent.FleetPurgeReceived);
    }

    private RedisKey ObjectKey(byte[] key) => ((RedisKey)(_config.KeyPrefix + "obj:")).Append(key);

    private RedisKey TagKey(string tag) => _config.KeyPrefix + "tag:" + tag;

    public async ValueTask DisposeAsync()
    {
        if (_connecting is not null)
        {
            await _connecting;
        }

        if (Volatile.Read(ref _connection) is { } connection)
        {
            await connection.DisposeAsync();
        }
    }
}
