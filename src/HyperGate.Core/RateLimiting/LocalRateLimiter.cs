namespace HyperGate.RateLimiting;

/// <summary>A limit kept in this process: exact, lock-free, per key.</summary>
internal sealed class LocalRateLimiter : IRateLimiter
{
    private readonly KeyedLimitTable<LimitEntry> _table;
    private readonly LimitAlgorithmSettings _settings;
    private readonly TimeProvider _time;
    private readonly ITimer _sweeper;

    public LocalRateLimiter(LimitAlgorithmSettings settings, int maxKeys, TimeSpan sweepInterval, TimeProvider time)
    {
        _settings = settings;
        _time = time;
        _table = new KeyedLimitTable<LimitEntry>(_ => settings.CreateEntry(), maxKeys);
        _sweeper = time.CreateTimer(static state => ((LocalRateLimiter)state!).Sweep(), this, sweepInterval, sweepInterval);
    }

    internal KeyedLimitTable<LimitEntry> Table => _table;

    public bool TryAcquire(ReadOnlySpan<byte> key, ref RateLimitDecision decision)
    {
        long now = _time.GetTimestamp();
        while (true)
        {
            LimitEntry entry = _table.Get(key, now);
            bool allowed = entry.TryAcquire(now, ref decision);
            if (entry.Retiring)
            {
                // The idle sweep took this entry while we used it: undo, and count on the entry that replaces it.
                if (allowed)
                {
                    entry.Refund(now);
                }

                continue;
            }

            decision.Entry = entry;
            return allowed;
        }
    }

    public void Refund(in RateLimitDecision decision) => ((LimitEntry)decision.Entry!).Refund(_time.GetTimestamp());

    internal int Sweep() => _table.Sweep(_time.GetTimestamp());

    public void Dispose() => _sweeper.Dispose();
}
