namespace HyperGate.Resilience;

/// <summary>
/// Two counters (say requests and failures) over a rolling window kept as two half-window buckets: the sums
/// cover the current bucket and the one before, between half a window and a whole one. Adding is lock-free;
/// turning to a new bucket (at most every half window) takes a lock.
/// </summary>
internal sealed class RollingCounts
{
    private readonly TimeProvider _time;
    private readonly long _bucket;
    private readonly Lock _rotation = new();
    private long _bucketStart;
    private long _first;
    private long _second;
    private long _previousFirst;
    private long _previousSecond;

    public RollingCounts(TimeSpan window, TimeProvider time)
    {
        _time = time;
        _bucket = Math.Max(1, (long)(window.TotalSeconds * time.TimestampFrequency / 2));
        _bucketStart = time.GetTimestamp();
    }

    public void Add(long first, long second)
    {
        Rotate();
        if (first != 0)
        {
            Interlocked.Add(ref _first, first);
        }

        if (second != 0)
        {
            Interlocked.Add(ref _second, second);
        }
    }

    public (long First, long Second) Sum()
    {
        Rotate();
        return (Volatile.Read(ref _first) + Volatile.Read(ref _previousFirst), Volatile.Read(ref _second) + Volatile.Read(ref _previousSecond));
    }

    public void Reset()
    {
        lock (_rotation)
        {
            _bucketStart = _time.GetTimestamp();
            Interlocked.Exchange(ref _first, 0);
            Interlocked.Exchange(ref _second, 0);
            Volatile.Write(ref _previousFirst, 0);
            Volatile.Write(ref _previousSecond, 0);
        }
    }

    private void Rotate()
    {
        long now = _time.GetTimestamp();
        if (now - Volatile.Read(ref _bucketStart) < _bucket)
        {
            return;
        }

        lock (_rotation)
        {
            long elapsed = now - _bucketStart;
            if (elapsed < _bucket)
            {
                return;
            }

            // After more than a bucket of silence the current counts are too old to keep as the previous ones.
            bool adjacent = elapsed < 2 * _bucket;
            long first = Interlocked.Exchange(ref _first, 0);
            long second = Interlocked.Exchange(ref _second, 0);
            Volatile.Write(ref _previousFirst, adjacent ? first : 0);
            Volatile.Write(ref _previousSecond, adjacent ? second : 0);
            Volatile.Write(ref _bucketStart, now);
        }
    }
}
