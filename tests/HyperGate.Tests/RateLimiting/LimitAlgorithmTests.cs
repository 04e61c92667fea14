using HyperGate.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.RateLimiting;

public class LimitAlgorithmTests
{
    private readonly FakeTimeProvider _time = new();

    private long Now => _time.GetTimestamp();

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private LimitEntry Bucket(long rate, TimeSpan per, long burst) =>
        LimitAlgorithmSettings.Create(RateLimitAlgorithm.TokenBucket, rate, per, burst, _time.TimestampFrequency, Now).CreateEntry();

    private LimitEntry Window(long limit, TimeSpan per) =>
        LimitAlgorithmSettings.Create(RateLimitAlgorithm.SlidingWindow, limit, per, limit, _time.TimestampFrequency, Now).CreateEntry();

    private int Admit(LimitEntry entry, int attempts)
    {
        int admitted = 0;
        for (int i = 0; i < attempts; i++)
        {
            var decision = default(RateLimitDecision);
            admitted += entry.TryAcquire(Now, ref decision) ? 1 : 0;
        }

        return admitted;
    }

    [Fact]
    public void TokenBucket_AdmitsTheBurstAtOnceThenRefuses()
    {
        LimitEntry bucket = Bucket(rate: 60, TimeSpan.FromMinutes(1), burst: 5);

        Assert.Equal(5, Admit(bucket, 20));
    }

    [Fact]
    public void TokenBucket_RefillsOneTokenPerInterval()
    {
        LimitEntry bucket = Bucket(rate: 60, TimeSpan.FromMinutes(1), burst: 5);
        Admit(bucket, 5);

        _time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(0, Admit(bucket, 1));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, Admit(bucket, 3));
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(3, Admit(bucket, 10));
    }

    [Fact]
    public void TokenBucket_RefillStopsAtTheBurst()
    {
        LimitEntry bucket = Bucket(rate: 10, TimeSpan.FromSeconds(1), burst: 4);
        Admit(bucket, 4);

        _time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(4, Admit(bucket, 10));
    }

    [Fact]
    public void TokenBucket_DecisionReportsRemainingResetAndRetryAfter()
    {
        LimitEntry bucket = Bucket(rate: 2, TimeSpan.FromSeconds(1), burst: 3);
        var decision = default(RateLimitDecision);

        Assert.True(bucket.TryAcquire(Now, ref decision));
        Assert.Equal(2, decision.Remaining);
        Assert.Equal(Ticks(TimeSpan.FromMilliseconds(500)), decision.ResetTicks);

        Admit(bucket, 2);
        Assert.False(bucket.TryAcquire(Now, ref decision));
        Assert.Equal(0, decision.Remaining);
        Assert.Equal(Ticks(TimeSpan.FromMilliseconds(500)), decision.RetryAfterTicks);
        Assert.Equal(Ticks(TimeSpan.FromMilliseconds(1500)), decision.ResetTicks);
    }

    [Fact]
    public void TokenBucket_RefundGivesBackOneToken()
    {
        LimitEntry bucket = Bucket(rate: 1, TimeSpan.FromMinutes(1), burst: 2);
        Admit(bucket, 2);

        bucket.Refund(Now);

        Assert.Equal(1, Admit(bucket, 5));
    }

    [Fact]
    public void TokenBucket_IsIdleOnlyOnceFullAgain()
    {
        LimitEntry bucket = Bucket(rate: 1, TimeSpan.FromSeconds(1), burst: 2);
        Assert.True(bucket.IsIdle(Now));
        Admit(bucket, 2);

        _time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(bucket.IsIdle(Now));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(bucket.IsIdle(Now));
    }

    [Fact]
    public void TokenBucket_RandomArrivals_NeverExceedBurstPlusRateTimesSpan()
    {
        const long rate = 10, burst = 7;
        var random = new Random(1234);
        LimitEntry bucket = Bucket(rate, TimeSpan.FromSeconds(1), burst);
        var admitted = new List<long>();
        for (int i = 0; i < 20_000; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 40)));
            var decision = default(RateLimitDecision);
            if (bucket.TryAcquire(Now, ref decision))
            {
                admitted.Add(Now);
            }
        }

        // Every span [admitted[i], admitted[j]] holds j - i + 1 admissions: at most burst + rate x span.
        long second = _time.TimestampFrequency;
        for (int i = 0; i < admitted.Count; i++)
        {
            for (int j = i; j < Math.Min(admitted.Count, i + 200); j++)
            {
                double span = (admitted[j] - admitted[i]) / (double)second;
                Assert.True(j - i + 1 <= burst + rate * span + 1e-9, $"{j - i + 1} admissions in {span}s");
            }
        }

        Assert.InRange(admitted.Count, 0.9 * rate * 400, rate * 400 + burst + 1);
    }

    [Fact]
    public void SlidingWindow_AdmitsTheLimitThenRefusesUntilTheWindowPasses()
    {
        LimitEntry window = Window(limit: 5, TimeSpan.FromSeconds(10));
        Assert.Equal(5, Admit(window, 8));

        // The slice holding the five admissions is counted until 11 slices (11 s) have begun after it.
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, Admit(window, 1));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(5, Admit(window, 8));
    }

    [Fact]
    public void SlidingWindow_AtTheEdgeOfAWindow_DoesNotAdmitTwice()
    {
        // A fixed window would admit 2 x limit around its edge; this one admits only the limit.
        LimitEntry window = Window(limit: 4, TimeSpan.FromSeconds(10));
        _time.Advance(TimeSpan.FromMilliseconds(9_990));
        Assert.Equal(4, Admit(window, 4));

        _time.Advance(TimeSpan.FromMilliseconds(20));
        Assert.Equal(0, Admit(window, 4));
    }

    [Fact]
    public void SlidingWindow_RefusalReportsWhenTheOldestSliceLeaves()
    {
        LimitEntry window = Window(limit: 2, TimeSpan.FromSeconds(10));
        Admit(window, 1);
        _time.Advance(TimeSpan.FromSeconds(3));
        Admit(window, 1);

        var decision = default(RateLimitDecision);
        Assert.False(window.TryAcquire(Now, ref decision));
        Assert.Equal(Ticks(TimeSpan.FromSeconds(8)), decision.RetryAfterTicks);

        _time.Advance(TimeSpan.FromSeconds(8));
        Assert.Equal(1, Admit(window, 3));
    }

    [Fact]
    public void SlidingWindow_RandomArrivals_NeverExceedTheLimitInAnyWindow()
    {
        const int limit = 20;
        TimeSpan per = TimeSpan.FromSeconds(1);
        var random = new Random(99);
        LimitEntry window = Window(limit, per);
        var admitted = new List<long>();
        for (int i = 0; i < 20_000; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 15)));
            var decision = default(RateLimitDecision);
            if (window.TryAcquire(Now, ref decision))
            {
                admitted.Add(Now);
            }
        }

        AssertNoWindowExceeds(admitted, Ticks(per), limit);
        Assert.True(admitted.Count > limit * 100, $"only {admitted.Count} admitted");
    }

    [Fact]
    public void SlidingWindow_RefundAndIdle()
    {
        LimitEntry window = Window(limit: 1, TimeSpan.FromSeconds(1));
        Assert.Equal(1, Admit(window, 1));
        Assert.False(window.IsIdle(Now));

        window.Refund(Now);
        Assert.True(window.IsIdle(Now));
        Assert.Equal(1, Admit(window, 2));
    }

    /// <summary>Every window [t, t + length) starting at an admission holds at most the limit.</summary>
    internal static void AssertNoWindowExceeds(List<long> admitted, long length, int limit)
    {
        admitted.Sort();
        int end = 0;
        for (int start = 0; start < admitted.Count; start++)
        {
            while (end < admitted.Count && admitted[end] < admitted[start] + length)
            {
                end++;
            }

            Assert.True(end - start <= limit, $"{end - start} admissions within one window of {limit}");
        }
    }
}
