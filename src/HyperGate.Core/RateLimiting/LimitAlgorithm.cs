namespace HyperGate.RateLimiting;

public enum RateLimitAlgorithm
{
    TokenBucket,
    SlidingWindow,
}

/// <summary>State kept per key, which the idle sweep may drop.</summary>
internal abstract class KeyedEntry
{
    // Set by the idle sweep while it checks that an entry can be dropped (see KeyedLimitTable.Sweep).
    private int _retiring;

    public bool Retiring => Volatile.Read(ref _retiring) != 0;

    public void BeginRetire() => Interlocked.Exchange(ref _retiring, 1);

    public void CancelRetire() => Interlocked.Exchange(ref _retiring, 0);

    /// <summary>True when the entry holds no information: dropping it changes no future decision.</summary>
    public abstract bool IsIdle(long now);
}

/// <summary>
/// One key's state under one algorithm. Every change is a compare-and-swap on 64-bit words: no locks, so a
/// hot key shared by every core costs a contended cache line, never a blocked thread.
/// </summary>
internal abstract class LimitEntry : KeyedEntry
{
    /// <summary>Tries to admit one request at <paramref name="now"/>; fills the decision either way.</summary>
    public abstract bool TryAcquire(long now, ref RateLimitDecision decision);

    /// <summary>Gives back one admission (the request was denied by another limit).</summary>
    public abstract void Refund(long now);
}

/// <summary>The parameters of a limit, converted to timestamp ticks once at compile time.</summary>
internal abstract class LimitAlgorithmSettings
{
    public abstract LimitEntry CreateEntry();

    /// <summary>Settings for one limit; <paramref name="origin"/> is a timestamp no request will predate.</summary>
    public static LimitAlgorithmSettings Create(RateLimitAlgorithm algorithm, long rate, TimeSpan per, long burst, long ticksPerSecond, long origin) =>
        algorithm switch
        {
            RateLimitAlgorithm.TokenBucket => new TokenBucketSettings(rate, per, burst, ticksPerSecond),
            _ => new SlidingWindowSettings(rate, per, ticksPerSecond, origin),
        };

    protected static long ToTicks(TimeSpan span, long ticksPerSecond) =>
        (long)Math.Ceiling((decimal)span.Ticks * ticksPerSecond / TimeSpan.TicksPerSecond);
}
