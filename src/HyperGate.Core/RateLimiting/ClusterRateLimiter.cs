namespace HyperGate.RateLimiting;

/// <summary>
/// A limit shared by every gateway instance through a quota store, without the hot path ever waiting on it.
/// Each instance admits requests from a local stash of at most <c>batch</c> admissions leased from the store.
/// When the stash falls to half, one background lease tops it up again. A key seen for the first time starts
/// with a full stash on credit, charged to the store by that first lease, so its first requests are not
/// refused while the lease is on its way.
///
/// Bound: a stash never holds more than <c>batch</c>, leases are taken from a token bucket (or window) kept by
/// the store, and credit is only given when an instance first sees a key (or sees it again after a whole
/// refill period of silence). So over any span T, the requests admitted for one key by N instances are at
/// most the single-node bound (burst + rate x T / per, or rate per window) plus N x batch.
/// </summary>
internal sealed class ClusterRateLimiter : IRateLimiter
{
    private readonly SharedLimit _limit;
    private readonly IQuotaStore _store;
    private readonly StoreHealth _health;
    private readonly StoreFailureMode _failureMode;
    private readonly LocalRateLimiter _fallback;
    private readonly KeyedLimitTable<LeaseEntry> _table;
    private readonly TimeProvider _time;
    private readonly ITimer _sweeper;
    private readonly long _batch;
    private readonly long _idleTicks;
    private readonly long _refillTicks;

    public ClusterRateLimiter(
        SharedLimit limit, long batch, IQuotaStore store, StoreHealth health, StoreFailureMode failureMode,
        LocalRateLimiter fallback, int maxKeys, TimeSpan sweepInterval, TimeProvider time)
    {
        _limit = limit;
        _batch = batch;
        _store = store;
        _health = health;
        _failureMode = failureMode;
        _fallback = fallback;
        _time = time;

        // Until a key has been quiet for the time its whole quota takes to come back, it keeps its entry, so its
        // credit is not given twice in one refill period (the bound above depends on it).
        TimeSpan refill = limit.Algorithm == RateLimitAlgorithm.TokenBucket ? limit.Per * limit.Burst / limit.Rate : limit.Per;
        _refillTicks = Ticks(refill / Math.Max(1, limit.Burst));
        _idleTicks = Ticks(refill > limit.Per ? refill : limit.Per);
        _table = new KeyedLimitTable<LeaseEntry>(key => new LeaseEntry(key.ToArray(), batch, _idleTicks, time.GetTimestamp()), maxKeys);
        _sweeper = time.CreateTimer(static state => ((ClusterRateLimiter)state!).Sweep(), this, sweepInterval, sweepInterval);
    }

    public bool TryAcquire(ReadOnlySpan<byte> key, ref RateLimitDecision decision)
    {
        if (!_health.IsUp)
        {
            return AcquireWhileStoreDown(key, ref decision);
        }

        long now = _time.GetTimestamp();
        while (true)
        {
            LeaseEntry entry = _table.Get(key, now);
            bool allowed = entry.TryTake(now);
            if (entry.Retiring)
            {
                if (allowed)
                {
                    entry.Return();
                }

                continue;
            }

            if (entry.ShouldLease(now, _batch))
            {
                _ = LeaseAsync(entry);
            }

            long stash = entry.Stash;
            decision.Allowed = allowed;
            decision.Remaining = Math.Max(0, stash + entry.SharedRemaining);
            decision.ResetTicks = Math.Max(0, _limit.Burst - decision.Remaining) * _refillTicks;
            decision.RetryAfterTicks = allowed ? 0 : Math.Max(entry.RetryAt - now, _refillTicks);
            decision.Entry = entry;
            return allowed;
        }
    }

    public void Refund(in RateLimitDecision decision)
    {
        switch (decision.Entry)
        {
            case LeaseEntry lease:
                lease.Return();
                break;
            case not null:
                _fallback.Refund(decision);
                break;
        }
    }

    private bool AcquireWhileStoreDown(ReadOnlySpan<byte> key, ref RateLimitDecision decision)
    {
        switch (_failureMode)
        {
            case StoreFailureMode.Local:
                return _fallback.TryAcquire(key, ref decision);
            case StoreFailureMode.Allow:
                decision = new RateLimitDecision { Allowed = true, Remaining = _limit.Rate };
                return true;
            default:
                decision = new RateLimitDecision { Allowed = false, StoreUnavailable = true, RetryAfterTicks = _time.TimestampFrequency };
                return false;
        }
    }

    private async Task LeaseAsync(LeaseEntry entry)
    {
        long charge = entry.TakeOwed();
        long want = Math.Max(0, _batch - entry.Stash);
        try
        {
            QuotaLease lease = await _store.LeaseAsync(_limit, entry.Key, charge, want);
            entry.Grant(lease.Granted, lease.Remaining, _time.GetTimestamp() + Ticks(lease.RetryAfter), lease.Granted < want);
            _health.ReportSuccess();
        }
        catch (Exception e)
        {
            entry.Fail(charge);
            _health.ReportFailure(e);
        }
    }

    private void Sweep() => _table.Sweep(_time.GetTimestamp());

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    public void Dispose()
    {
        _sweeper.Dispose();
        _fallback.Dispose();
    }
}
