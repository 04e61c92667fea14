using System.Globalization;
using System.Text;
using HyperGate.Redis;
using StackExchange.Redis;

namespace HyperGate.RateLimiting;

/// <summary>
/// Shared quotas in Redis. Each lease is one Lua script run atomically on the server, timed by the server's
/// own clock (TIME), so instances with skewed clocks still agree. Keys expire once their quota is whole again.
/// </summary>
public sealed class RedisQuotaStore : IQuotaStore
{
    // KEYS[1]: the bucket. ARGV: tokens per microsecond, capacity, charge, want.
    // Returns granted, microseconds until a token is back (when the bucket is empty), tokens left.
    private const string TokenBucketScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local rate = tonumber(ARGV[1])
        local capacity = tonumber(ARGV[2])
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(state[1]) or capacity
        local at = tonumber(state[2]) or now
        tokens = math.min(capacity, tokens + math.max(0, now - at) * rate) - tonumber(ARGV[3])
        local grant = math.max(0, math.min(tonumber(ARGV[4]), math.floor(tokens)))
        tokens = tokens - grant
        redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%.0f', now))
        redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate / 1000) + 1000)
        local wait = 0
        if tokens < 1 then wait = math.ceil((1 - tokens) / rate) end
        return { grant, wait, math.max(0, math.floor(tokens)) }
        """;

    // KEYS[1]: a hash of slice -> count. ARGV: slice length in microseconds, limit, charge, want.
    // Counts the current slice and the ten before it, like the local sliding window, so the bound is the same.
    private const string SlidingWindowScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local length = tonumber(ARGV[1])
        local limit = tonumber(ARGV[2])
        local slice = math.floor(now / length)
        local total = tonumber(ARGV[3])
        local oldest = slice
        local counts = redis.call('HGETALL', KEYS[1])
        for i = 1, #counts, 2 do
          local s = tonumber(counts[i])
          if s <= slice - 11 then
            redis.call('HDEL', KEYS[1], counts[i])
          else
            total = total + tonumber(counts[i + 1])
            if s < oldest then oldest = s end
          end
        end
        local grant = math.max(0, math.min(tonumber(ARGV[4]), limit - total))
        if tonumber(ARGV[3]) + grant > 0 then
          redis.call('HINCRBY', KEYS[1], string.format('%.0f', slice), tonumber(ARGV[3]) + grant)
        end
        redis.call('PEXPIRE', KEYS[1], math.ceil(length * 11 / 1000) + 1000)
        local wait = 0
        if grant < tonumber(ARGV[4]) then wait = (oldest + 11) * length - now end
        return { grant, wait, math.max(0, limit - total - grant) }
        """;

    private readonly Lazy<Task<ConnectionMultiplexer>> _connection;
    private readonly byte[] _prefix;

    public RedisQuotaStore(string configuration, string keyPrefix)
    {
        // Fail fast: a lease that cannot be made is a store outage.
        ConfigurationOptions options = RedisOptions.FailFast(configuration);

        // Connected on first use, so that validating a config never opens a connection.
        _connection = new Lazy<Task<ConnectionMultiplexer>>(() => ConnectAsync(options));
        _prefix = Encoding.UTF8.GetBytes(keyPrefix + ":");
    }

    public async Task<QuotaLease> LeaseAsync(SharedLimit limit, byte[] key, long charge, long want)
    {
        IDatabase database = (await _connection.Value).GetDatabase();
        double perMicroseconds = limit.Per.Ticks / (double)TimeSpan.TicksPerMicrosecond;
        RedisValue[] arguments = limit.Algorithm == RateLimitAlgorithm.TokenBucket
            ? [Format(limit.Rate / perMicroseconds), limit.Burst, charge, want]
            : [Format(perMicroseconds / 10), limit.Rate, charge, want];
        string script = limit.Algorithm == RateLimitAlgorithm.TokenBucket ? TokenBucketScript : SlidingWindowScript;
        var result = (RedisResult[])(await database.ScriptEvaluateAsync(script, [RedisKeyFor(limit, key)], arguments))!;
        return new QuotaLease((long)result[0], TimeSpan.FromMicroseconds((long)result[1]), (long)result[2]);
    }

    /// <summary>Connects, and loads both scripts so that every lease runs as EVALSHA.</summary>
    private static async Task<ConnectionMultiplexer> ConnectAsync(ConfigurationOptions options)
    {
        ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(options);
        foreach (System.Net.EndPoint endPoint in connection.GetEndPoints())
        {
            IServer server = connection.GetServer(endPoint);
            if (server.IsConnected)
            {
                await server.ScriptLoadAsync(TokenBucketScript);
                await server.ScriptLoadAsync(SlidingWindowScript);
            }
        }

        return connection;
    }

    public async Task PingAsync() => await (await _connection.Value).GetDatabase().PingAsync();

    private RedisKey RedisKeyFor(SharedLimit limit, byte[] key)
    {
        byte[] name = Encoding.UTF8.GetBytes(limit.Name);
        var redisKey = new byte[_prefix.Length + name.Length + 1 + key.Length];
        _prefix.CopyTo(redisKey, 0);
        name.CopyTo(redisKey, _prefix.Length);
        redisKey[_prefix.Length + name.Length] = (byte)':';
        key.CopyTo(redisKey, _prefix.Length + name.Length + 1);
        return redisKey;
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        if (!_connection.IsValueCreated)
        {
            return;
        }

        try
        {
            await (await _connection.Value).DisposeAsync();
        }
        catch (RedisConnectionException)
        {
            // Never connected: nothing to close.
        }
    }
}
