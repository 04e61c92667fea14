using System.Text;
using HyperGate.RateLimiting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.RateLimiting;

public class ClusterRateLimiterTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly InMemoryQuotaStore _store;

    public ClusterRateLimiterTests() => _store = new InMemoryQuotaStore(_time);

    private ClusterRateLimiter Instance(SharedLimit limit, long batch, StoreHealth health, StoreFailureMode mode = StoreFailureMode.Local, int instances = 1)
    {
        var fallbackSettings = LimitAlgorithmSettings.Create(limit.Algorithm, Math.Max(1, limit.Rate / instances), limit.Per, Math.Max(1, limit.Burst / instances), _time.TimestampFrequency, _time.GetTimestamp());
        var fallback = new LocalRateLimiter(fallbackSettings, 1000, TimeSpan.FromSeconds(1), _time);
        return new ClusterRateLimiter(limit, batch, _store, health, mode, fallback, 1000, TimeSpan.FromSeconds(1), _time);
    }

    private StoreHealth Health(ILogger? logger = null) => new(_store, logger ?? NullLogger.Instance, _time, TimeSpan.FromSeconds(1));

    private static bool Acquire(IRateLimiter limiter, string key, out RateLimitDecision decision)
    {
        decision = default;
        return limiter.TryAcquire(Encoding.ASCII.GetBytes(key), ref decision);
    }

    private static bool Acquire(IRateLimiter limiter, string key = "k") => Acquire(limiter, key, out _);

    [Fact]
    public void NewKey_IsAdmittedOnCredit_AndTheCreditIsChargedByTheFirstLease()
    {
        var limit = new SharedLimit("l", RateLimitAlgorithm.TokenBucket, 10, TimeSpan.FromMinutes(1), 10);
        using StoreHealth health = Health();
        using ClusterRateLimiter limiter = Instance(limit, batch: 4, health);

        Assert.True(Acquire(limiter));

        // The credit of 4 was charged and the stash topped back up to 4: 10 - 4 - 1 left in the store.
        Assert.Equal(1, _store.Leases);
        Assert.Equal(5, _store.Tokens("l", "k"), 3);
    }

    [Fact]
    public void Instances_ShareOneQuota()
    {
        var limit = new SharedLimit("l", RateLimitAlgorithm.TokenBucket, 20, TimeSpan.FromHours(1), 20);
        using StoreHealth health = Health();
        using ClusterRateLimiter a = Instance(limit, batch: 2, health);
        using ClusterRateLimiter b = Instance(limit, batch: 2, health);

        int admitted = 0;
        for (int i = 0; i < 100; i++)
        {
            admitted += Acquire(i % 2 == 0 ? a : b) ? 1 : 0;
        }

        // Burst 20 plus at most instances x batch = 4.
        Assert.InRange(admitted, 20, 24);
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.TokenBucket, 2, 5)]
    [InlineData(RateLimitAlgorithm.TokenBucket, 4, 10)]
    [InlineData(RateLimitAlgorithm.SlidingWindow, 3, 4)]
    public void RandomTrafficOnSeveralInstances_StaysWithinTheDocumentedBound(RateLimitAlgorithm algorithm, int instances, long batch)
    {
        const long rate = 50, burst = 50;
        TimeSpan per = TimeSpan.FromSeconds(1);
        var limit = new SharedLimit("l", algorithm, rate, per, burst);
        using StoreHealth health = Health();
        ClusterRateLimiter[] limiters = [.. Enumerable.Range(0, instances).Select(_ => Instance(limit, batch, health))];
        var random = new Random(7);
        var admitted = new List<long>();
        for (int i = 0; i < 30_000; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 3)));
            if (Acquire(limiters[random.Next(instances)]))
            {
                admitted.Add(_time.GetTimestamp());
            }
        }

        // Any span T: burst + rate x T (token bucket) or rate per window, plus instances x batch.
        long second = _time.TimestampFrequency;
        long extra = instances * batch;
        int end = 0;
        for (int start = 0; start < admitted.Count; start++)
        {
            while (end < admitted.Count && admitted[end] < admitted[start] + second)
            {
                end++;
            }

            double bound = algorithm == RateLimitAlgorithm.TokenBucket ? burst + rate * (admitted[end - 1] - admitted[start]) / (double)second : rate;
            Assert.True(end - start <= bound + extra, $"{end - start} admitted within one second; bound {bound} + {extra}");
        }

        Assert.True(admitted.Count > rate * 25, $"only {admitted.Count} admitted in about 30 s");
        foreach (ClusterRateLimiter limiter in limiters)
        {
            limiter.Dispose();
        }
    }

    [Fact]
    public void EmptyQuota_IsNotAskedAgainBeforeItHasRoom()
    {
        var limit = new SharedLimit("l", RateLimitAlgorithm.TokenBucket, 1, TimeSpan.FromSeconds(10), 1);
        using StoreHealth health = Health();
        using ClusterRateLimiter limiter = Instance(limit, batch: 1, health);

        Assert.True(Acquire(limiter));
        for (int i = 0; i < 50; i++)
        {
            Assert.False(Acquire(limiter, "k", out RateLimitDecision refused));
            Assert.True(refused.RetryAfterTicks > 0);
        }

        Assert.Equal(1, _store.Leases);
        _time.Advance(TimeSpan.FromSeconds(10));
        Acquire(limiter);
        Assert.Equal(2, _store.Leases);
    }

    [Theory]
    [InlineData(StoreFailureMode.Local, 5)]
    [InlineData(StoreFailureMode.Allow, 100)]
    [InlineData(StoreFailureMode.Deny, 0)]
    public void StoreDown_UsesTheConfiguredMode(StoreFailureMode mode, int expected)
    {
        var limit = new SharedLimit("l", RateLimitAlgorithm.TokenBucket, 10, TimeSpan.FromHours(1), 10);
        using StoreHealth health = Health();
        using ClusterRateLimiter limiter = Instance(limit, batch: 1, health, mode, instances: 2);
        _store.Down = true;
        Acquire(limiter, "first");
        Assert.False(health.IsUp);

        int admitted = 0;
        RateLimitDecision last = default;
        for (int i = 0; i < 100; i++)
        {
            admitted += Acquire(limiter, "k", out last) ? 1 : 0;
        }

        // Local: each of the 2 instances keeps half of the burst of 10.
        Assert.Equal(expected, admitted);
        Assert.Equal(mode == StoreFailureMode.Deny, last.StoreUnavailable);
    }

    [Fact]
    public void Outage_IsLoggedOnce_AndRecoveryIsAutomatic()
    {
        var logger = new CountingLogger();
        var limit = new SharedLimit("l", RateLimitAlgorithm.TokenBucket, 1000, TimeSpan.FromSeconds(1), 1000);
        using StoreHealth health = Health(logger);
        using ClusterRateLimiter limiter = Instance(limit, batch: 1, health);
        _store.Down = true;
        for (int i = 0; i < 100; i++)
        {
            Acquire(limiter, $"key-{i}");
            _time.Advance(TimeSpan.FromMilliseconds(5));
        }

        Assert.False(health.IsUp);
        Assert.Equal(1, logger.Warnings);

        _store.Down = false;
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(health.IsUp);
        Assert.Equal(1, logger.Informations);
        Assert.True(Acquire(limiter, "after"));
        Assert.Equal(1, health.Outages);
    }

    private sealed class CountingLogger : ILogger
    {
        public int Warnings { get; private set; }

        public int Informations { get; private set; }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Warnings += logLevel == LogLevel.Warning ? 1 : 0;
            Informations += logLevel == LogLevel.Information ? 1 : 0;
        }
    }
}

/// <summary>
/// The same quota arithmetic as the Redis scripts, in memory and on the test's clock, answering at once so the
/// tests are deterministic. The functional tests run the real scripts against a real Redis.
/// </summary>
internal sealed class InMemoryQuotaStore(FakeTimeProvider time) : IQuotaStore
{
    private readonly Dictionary<string, (double Tokens, DateTimeOffset At)> _buckets = [];
    private readonly Dictionary<string, List<(DateTimeOffset At, long Count)>> _windows = [];

    public bool Down { get; set; }

    public int Leases { get; private set; }

    public double Tokens(string limit, string key) => _buckets[$"{limit}:{key}"].Tokens;

    public Task<QuotaLease> LeaseAsync(SharedLimit limit, byte[] key, long charge, long want)
    {
        if (Down)
        {
            return Task.FromException<QuotaLease>(new IOException("store down"));
        }

        Leases++;
        string name = $"{limit.Name}:{Encoding.ASCII.GetString(key)}";
        DateTimeOffset now = time.GetUtcNow();
        return Task.FromResult(limit.Algorithm == RateLimitAlgorithm.TokenBucket ? Bucket(limit, name, now, charge, want) : Window(limit, name, now, charge, want));
    }

    private QuotaLease Bucket(SharedLimit limit, string name, DateTimeOffset now, long charge, long want)
    {
        double perSecond = limit.Rate / limit.Per.TotalSeconds;
        (double tokens, DateTimeOffset at) = _buckets.GetValueOrDefault(name, (limit.Burst, now));
        tokens = Math.Min(limit.Burst, tokens + (now - at).TotalSeconds * perSecond) - charge;
        long grant = (long)Math.Max(0, Math.Min(want, Math.Floor(tokens)));
        tokens -= grant;
        _buckets[name] = (tokens, now);
        TimeSpan wait = tokens < 1 ? TimeSpan.FromSeconds((1 - tokens) / perSecond) : TimeSpan.Zero;
        return new QuotaLease(grant, wait, (long)Math.Max(0, tokens));
    }

    private QuotaLease Window(SharedLimit limit, string name, DateTimeOffset now, long charge, long want)
    {
        // Eleven slices of per / 10, like the script.
        TimeSpan slice = limit.Per / 10;
        List<(DateTimeOffset At, long Count)> counts = _windows.TryGetValue(name, out var list) ? list : _windows[name] = [];
        long current = now.Ticks / slice.Ticks;
        counts.RemoveAll(c => c.At.Ticks / slice.Ticks <= current - 11);
        long total = counts.Sum(c => c.Count) + charge;
        long grant = Math.Max(0, Math.Min(want, limit.Rate - total));
        counts.Add((now, charge + grant));
        TimeSpan wait = grant < want ? TimeSpan.FromTicks((counts.Min(c => c.At.Ticks / slice.Ticks) + 11) * slice.Ticks - now.Ticks) : TimeSpan.Zero;
        return new QuotaLease(grant, wait, Math.Max(0, limit.Rate - total - grant));
    }

    public Task PingAsync() => Down ? Task.FromException(new IOException("store down")) : Task.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
