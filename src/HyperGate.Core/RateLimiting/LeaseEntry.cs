namespace HyperGate.RateLimiting;

/// <summary>One key of a cluster limit on this instance: the stash of leased admissions and the lease in flight.</summary>
internal sealed class LeaseEntry : KeyedEntry
{
    private readonly long _idleTicks;
    private long _stash;
    private long _owed;
    private long _lastUsed;
    private long _notBefore;
    private long _retryAt;
    private long _sharedRemaining;
    private int _leasing;

    /// <summary>A new key starts with a full stash on credit; the first lease charges it to the store.</summary>
    public LeaseEntry(byte[] key, long batch, long idleTicks, long now)
    {
        Key = key;
        _stash = batch;
        _owed = batch;
        _idleTicks = idleTicks;
        _lastUsed = now;
    }

    public byte[] Key { get; }

    public long Stash => Volatile.Read(ref _stash);

    /// <summary>What the shared quota held after the last lease.</summary>
    public long SharedRemaining => Volatile.Read(ref _sharedRemaining);

    /// <summary>When the store said it would have room again (after a short lease).</summary>
    public long RetryAt => Volatile.Read(ref _retryAt);

    public bool TryTake(long now)
    {
        Volatile.Write(ref _lastUsed, now);
        long stash = Volatile.Read(ref _stash);
        while (stash > 0)
        {
            long seen = Interlocked.CompareExchange(ref _stash, stash - 1, stash);
            if (seen == stash)
            {
                return true;
            }

            stash = seen;
        }

        return false;
    }

    public void Return() => Interlocked.Increment(ref _stash);

    /// <summary>
    /// True (and the caller must lease) when credit is owed or the stash is at half or less, and no lease is in
    /// flight. Credit is charged at once, so the store learns about a new key within one round trip.
    /// </summary>
    public bool ShouldLease(long now, long batch) =>
        (Volatile.Read(ref _owed) > 0 || Stash <= batch / 2) && now >= Volatile.Read(ref _notBefore)
        && Interlocked.CompareExchange(ref _leasing, 1, 0) == 0;

    public long TakeOwed() => Interlocked.Exchange(ref _owed, 0);

    public void Grant(long granted, long sharedRemaining, long retryAt, bool exhausted)
    {
        Interlocked.Add(ref _stash, granted);
        Volatile.Write(ref _sharedRemaining, sharedRemaining);
        Volatile.Write(ref _retryAt, retryAt);

        // An empty quota is not asked again before it said it would have room.
        Volatile.Write(ref _notBefore, exhausted ? retryAt : 0);
        Volatile.Write(ref _leasing, 0);
    }

    /// <summary>The lease failed: what it should have charged is charged by the next one.</summary>
    public void Fail(long charge)
    {
        Interlocked.Add(ref _owed, charge);
        Volatile.Write(ref _leasing, 0);
    }

    public override bool IsIdle(long now) => Volatile.Read(ref _leasing) == 0 && now - Volatile.Read(ref _lastUsed) >= _idleTicks;
}
