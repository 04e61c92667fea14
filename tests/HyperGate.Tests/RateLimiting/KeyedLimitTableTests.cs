using System.Diagnostics;
using System.Text;
using HyperGate.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.RateLimiting;

public class KeyedLimitTableTests
{
    private readonly FakeTimeProvider _time = new();

    private LocalRateLimiter Limiter(RateLimitAlgorithm algorithm, long rate, TimeSpan per, long burst, int maxKeys, TimeProvider? time = null)
    {
        time ??= _time;
        var settings = LimitAlgorithmSettings.Create(algorithm, rate, per, burst, time.TimestampFrequency, time.GetTimestamp());
        return new LocalRateLimiter(settings, maxKeys, TimeSpan.FromSeconds(1), time);
    }

    private static bool Acquire(LocalRateLimiter limiter, string key)
    {
        var decision = default(RateLimitDecision);
        return limiter.TryAcquire(Encoding.ASCII.GetBytes(key), ref decision);
    }

    [Fact]
    public void Keys_HaveSeparateQuotas()
    {
        using LocalRateLimiter limiter = Limiter(RateLimitAlgorithm.TokenBucket, 1, TimeSpan.FromMinutes(1), 1, 100);

        Assert.True(Acquire(limiter, "a"));
        Assert.False(Acquire(limiter, "a"));
        Assert.True(Acquire(limiter, "b"));
    }

    [Fact]
    public void Sweep_DropsIdleKeys_AndKeepsKeysThatStillHoldState()
    {
        using LocalRateLimiter limiter = Limiter(RateLimitAlgorithm.TokenBucket, 1, TimeSpan.FromSeconds(10), 1, 100);
        Acquire(limiter, "old");
        _time.Advance(TimeSpan.FromSeconds(6));
        Acquire(limiter, "recent");
        Assert.Equal(2, limiter.Table.Count);

        // The periodic sweep runs on the provider's timer; at 10 s "old" has refilled, "recent" has not.
        _time.Advance(TimeSpan.FromSeconds(4));

        Assert.Equal(1, limiter.Table.Count);
        Assert.False(Acquire(limiter, "recent"));
        Assert.True(Acquire(limiter, "old"));
    }

    [Fact]
    public void Sweep_ForgetsNothingThatMatters_ForSlidingWindows()
    {
        using LocalRateLimiter limiter = Limiter(RateLimitAlgorithm.SlidingWindow, 2, TimeSpan.FromSeconds(10), 2, 100);
        Assert.True(Acquire(limiter, "k"));
        Assert.True(Acquire(limiter, "k"));

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, limiter.Sweep());
        Assert.False(Acquire(limiter, "k"));

        // Eleven seconds on, the slice holding both admissions has left every window: the periodic sweep drops it.
        _time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(0, limiter.Table.Count);
        Assert.True(Acquire(limiter, "k"));
    }

    [Fact]
    public void KeyExplosion_StaysUnderTheCap()
    {
        const int cap = 1_000;
        using LocalRateLimiter limiter = Limiter(RateLimitAlgorithm.TokenBucket, 1, TimeSpan.FromMinutes(1), 1, cap);

        for (int i = 0; i < 50 * cap; i++)
        {
            Assert.True(Acquire(limiter, $"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"));
            Assert.InRange(limiter.Table.Count, 1, cap);
        }

        Assert.True(limiter.Table.Evictions >= 49 * cap - cap, $"{limiter.Table.Evictions} evictions");
    }

    [Fact]
    public void KeyExplosion_EvictsIdleKeysBeforeBusyOnes()
    {
        const int cap = 100;
        using LocalRateLimiter limiter = Limiter(RateLimitAlgorithm.TokenBucket, 1, TimeSpan.FromSeconds(1), 1, cap);
        for (int i = 0; i < cap; i++)
        {
            Acquire(limiter, $"idle-{i}");
        }

        _time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(cap, limiter.Table.Count);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Acquire(limiter, "busy");
        Acquire(limiter, "new");

        Assert.Equal(0, limiter.Table.Evictions);
        Assert.False(Acquire(limiter, "busy"));
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.TokenBucket)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    public void ManyThreadsOnOneKey_AdmitWithinTheBound(RateLimitAlgorithm algorithm)
    {
        const long rate = 2_000, burst = 100;
        TimeSpan per = TimeSpan.FromSeconds(1);
        using LocalRateLimiter limiter = Limiter(algorithm, rate, per, burst, 100, TimeProvider.System);
        byte[] key = "hot"u8.ToArray();
        int threads = Math.Max(4, Environment.ProcessorCount * 2);
        long admitted = 0, attempts = 0;
        var clock = Stopwatch.StartNew();

        // Bounded in time: each thread stops after 500 ms of hammering.
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
        {
            long mine = 0, tries = 0;
            while (clock.ElapsedMilliseconds < 500)
            {
                var decision = default(RateLimitDecision);
                mine += limiter.TryAcquire(key, ref decision) ? 1 : 0;
                tries++;
            }

            Interlocked.Add(ref admitted, mine);
            Interlocked.Add(ref attempts, tries);
        });
        double seconds = clock.Elapsed.TotalSeconds;

        // Token bucket: burst + rate x T. Sliding window: rate per window, over ceil(T / per) + 1 windows at most.
        double bound = algorithm == RateLimitAlgorithm.TokenBucket ? burst + rate * seconds : rate * (Math.Ceiling(seconds / per.TotalSeconds) + 1);
        Assert.True(attempts > 10 * admitted, $"the key was not hammered: {attempts} attempts");
        Assert.InRange(admitted, Math.Min(burst, rate) / 2, (long)bound);
    }

    [Fact]
    public void ManyThreads_OnOneSlidingWindow_NeverExceedTheLimitInAnyWindow()
    {
        // The entry is driven directly so the test knows the time each admission was made at.
        // Slices of 50 ms: a thread would have to stall for a whole slice between reading the clock and
        // counting to fall outside what a check can see.
        const int limit = 500;
        var settings = LimitAlgorithmSettings.Create(RateLimitAlgorithm.SlidingWindow, limit, TimeSpan.FromMilliseconds(500), limit, Stopwatch.Frequency, Stopwatch.GetTimestamp());
        LimitEntry entry = settings.CreateEntry();
        int threads = Math.Max(4, Environment.ProcessorCount * 2);
        var admissions = new List<long>[threads];
        var clock = Stopwatch.StartNew();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var mine = new List<long>(100_000);
            while (clock.ElapsedMilliseconds < 1200)
            {
                long now = Stopwatch.GetTimestamp();
                var decision = default(RateLimitDecision);
                if (entry.TryAcquire(now, ref decision))
                {
                    mine.Add(now);
                }
            }

            admissions[t] = mine;
        });

        var all = admissions.SelectMany(a => a).ToList();
        LimitAlgorithmTests.AssertNoWindowExceeds(all, Stopwatch.Frequency / 2, limit);
        Assert.True(all.Count >= limit * 2, $"only {all.Count} admitted");
    }
}
