using StackExchange.Redis;

namespace HyperGate.Redis;

/// <summary>How the gateway connects to a Redis it can run without (cluster rate limits, the cache's fleet tier).</summary>
public static class RedisOptions
{
    /// <summary>
    /// <paramref name="configuration"/> (a StackExchange.Redis configuration string), made to start even when Redis is
    /// down and keep reconnecting, and to fail a command at once while it is away instead of queueing it.
    /// </summary>
    public static ConfigurationOptions FailFast(string configuration)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2000);
        options.AsyncTimeout = Math.Min(options.AsyncTimeout, 1000);
        options.ConnectRetry = 1;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        return options;
    }
}
