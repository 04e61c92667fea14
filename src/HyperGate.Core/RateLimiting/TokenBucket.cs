namespace HyperGate.RateLimiting;

/// <summary>
/// A token bucket of <c>burst</c> tokens refilled at <c>rate</c> per <c>per</c>, kept as the generic cell rate
/// algorithm: the whole state is one timestamp, the "theoretical arrival time" at which the bucket would be
/// full again. Admitting a request pushes it one emission interval further; a request is refused when that
/// would put it more than <c>burst</c> intervals ahead of now. One word means one compare-and-swap per
/// request, and over any span T the admitted count is at most <c>burst + T / interval</c>, exactly.
/// </summary>
internal sealed class TokenBucketSettings : LimitAlgorithmSettings
{
    public TokenBucketSettings(long rate, TimeSpan per, long burst, long ticksPerSecond)
    {
        // Rounded up: a longer interval can only admit less, never more, than configured.
        Interval = Math.Max(1, (ToTicks(per, ticksPerSecond) + rate - 1) / rate);
        Burst = burst;
        Capacity = checked(burst * Interval);
    }

    /// <summary>Ticks between two tokens.</summary>
    public long Interval { get; }

    public long Burst { get; }

    /// <summary>How far ahead of now the arrival time may run: burst intervals.</summary>
    public long Capacity { get; }

    public override LimitEntry CreateEntry() => new TokenBucketEntry(this);
}

internal sealed class TokenBucketEntry(TokenBucketSettings settings) : LimitEntry
{
    // Zero (the distant past) is a full bucket.
    private long _arrival;

    public override bool TryAcquire(long now, ref RateLimitDecision decision)
    {
        long interval = settings.Interval;
        while (true)
        {
            long arrival = Volatile.Read(ref _arrival);
            long next = Math.Max(arrival, now) + interval;
            long ahead = next - now;
            if (ahead > settings.Capacity)
            {
                long current = Math.Max(arrival - now, 0);
                decision.Allowed = false;
                decision.Remaining = (settings.Capacity - current) / interval;
                decision.ResetTicks = current;
                decision.RetryAfterTicks = ahead - settings.Capacity;
                return false;
            }

            if (Interlocked.CompareExchange(ref _arrival, next, arrival) == arrival)
            {
                decision.Allowed = true;
                decision.Remaining = (settings.Capacity - ahead) / interval;
                decision.ResetTicks = ahead;
                decision.RetryAfterTicks = 0;
                return true;
            }
        }
    }

    public override void Refund(long now)
    {
        long arrival = Volatile.Read(ref _arrival);
        while (arrival > now)
        {
            long previous = Interlocked.CompareExchange(ref _arrival, Math.Max(arrival - settings.Interval, now), arrival);
            if (previous == arrival)
            {
                return;
            }

            arrival = previous;
        }
    }

    public override bool IsIdle(long now) => Volatile.Read(ref _arrival) <= now;
}
