namespace HyperGate.RateLimiting;

/// <summary>
/// At most <c>rate</c> requests in any window of length <c>per</c>, never more. The window is cut into
/// <see cref="SubWindows"/> slices and a request is admitted only if the slices that any window ending now
/// could overlap (the current one and the <see cref="SubWindows"/> before it) hold fewer than <c>rate</c>
/// admissions. Counting one slice more than the window is what makes the bound exact; the price is that a
/// request can be counted for up to one slice (per / 10) longer than the window. Under threads, the bound holds
/// as long as no thread stalls for a whole slice between reading the clock and counting its request.
/// </summary>
internal sealed class SlidingWindowSettings : LimitAlgorithmSettings
{
    public const int SubWindows = 10;

    /// <summary>Each slot packs a slice index (high 40 bits) and that slice's count (low 24 bits).</summary>
    public const int CountBits = 24;

    public const long MaxLimit = (1L << CountBits) - 1;

    public SlidingWindowSettings(long limit, TimeSpan per, long ticksPerSecond, long origin)
    {
        Limit = limit;
        Origin = origin;
        SliceTicks = Math.Max(1, ToTicks(per, ticksPerSecond) / SubWindows);
    }

    public long Limit { get; }

    public long SliceTicks { get; }

    /// <summary>Slices are numbered from here, so slice indexes stay small enough for their 40 bits.</summary>
    public long Origin { get; }

    public override LimitEntry CreateEntry() => new SlidingWindowEntry(this);
}

internal sealed class SlidingWindowEntry(SlidingWindowSettings settings) : LimitEntry
{
    private const long CountMask = SlidingWindowSettings.MaxLimit;
    /// <summary>Slices counted by a check: the current one and the ten before it.</summary>
    private const int Counted = SlidingWindowSettings.SubWindows + 1;

    /// <summary>
    /// One slot more than is counted: a thread that read the clock just before a slice boundary still finds the
    /// oldest slice it must count, instead of a slot already taken over by the next slice.
    /// </summary>
    private const int Slots = Counted + 1;

    // Slice i is counted in slot i % Slots. Index 0 with count 0 never matches a live slice (slices start at 1).
    private readonly long[] _slots = new long[Slots];

    public override bool TryAcquire(long now, ref RateLimitDecision decision)
    {
        long slice = Slice(now);
        Increment(slice, +1);

        // Increment first, then count: of two racing requests at the limit, one or both are refused, never
        // both admitted. Refusals roll their increment back.
        long total = Total(slice, out long oldestSlice);
        if (total > settings.Limit)
        {
            Increment(slice, -1);
            decision.Allowed = false;
            decision.Remaining = 0;
            decision.RetryAfterTicks = Start(oldestSlice + Counted) - now;
            decision.ResetTicks = Start(slice + Counted) - now;
            return false;
        }

        decision.Allowed = true;
        decision.Remaining = settings.Limit - total;
        decision.RetryAfterTicks = 0;
        decision.ResetTicks = Start(slice + Counted) - now;
        return true;
    }

    public override void Refund(long now) => Increment(Slice(now), -1);

    public override bool IsIdle(long now)
    {
        long slice = Slice(now);
        foreach (long slot in _slots)
        {
            if ((slot & CountMask) != 0 && slot >> SlidingWindowSettings.CountBits > slice - Counted)
            {
                return false;
            }
        }

        return true;
    }

    private long Slice(long now) => (now - settings.Origin) / settings.SliceTicks + 1;

    /// <summary>When a slice begins; slice s stops being counted when slice s + <see cref="Counted"/> begins.</summary>
    private long Start(long slice) => settings.Origin + (slice - 1) * settings.SliceTicks;

    private void Increment(long slice, int delta)
    {
        ref long slot = ref _slots[slice % Slots];
        while (true)
        {
            long current = Volatile.Read(ref slot);
            long index = current >> SlidingWindowSettings.CountBits;

            // A thread that read the clock later may already have moved this slot on; its slice is the live one.
            long target = Math.Max(index, slice);
            long count = index == target ? current & CountMask : 0;
            if (count + delta < 0)
            {
                // A refund whose slice has already rolled over: that admission no longer counts anyway.
                return;
            }

            long next = target << SlidingWindowSettings.CountBits | (count + delta);
            if (Interlocked.CompareExchange(ref slot, next, current) == current)
            {
                return;
            }
        }
    }

    /// <summary>Admissions in the current slice, the ones before it that a window ending now can overlap, and any newer.</summary>
    private long Total(long slice, out long oldestSlice)
    {
        long total = 0;
        oldestSlice = slice;
        foreach (long slot in _slots)
        {
            long index = slot >> SlidingWindowSettings.CountBits;
            long count = slot & CountMask;
            // Slices newer than ours count too: a thread that read the clock earlier than another must still
            // see what that one admitted, or the two could fill the same window twice.
            if (count != 0 && index > slice - Counted)
            {
                total += count;
                oldestSlice = Math.Min(oldestSlice, index);
            }
        }

        return total;
    }
}
