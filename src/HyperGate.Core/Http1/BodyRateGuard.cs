using System.IO.Pipelines;

namespace HyperGate.Http1;

/// <summary>
/// Watches a body as it streams, against peers that trickle or stall to hold connections open: either a
/// minimum average data rate after a grace period (request bodies from clients), or a longest silence
/// between bytes (response bodies from upstreams). A check every quarter second compares what was received;
/// when the body falls behind, it cancels the pending read and the copy ends with
/// <see cref="BodyCopyResult.SourceTooSlow"/>. One guard per connection, re-armed per body; its timer is created
/// by the first body it watches.
/// </summary>
public sealed class BodyRateGuard : IDisposable
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(250);
    private readonly TimeProvider _timeProvider;
    private readonly Lock _sourceLock = new();
    private PipeReader? _source;
    private ITimer? _timer;
    private long _received;
    private long _startTimestamp;
    private long _minBytesPerSecond;
    private TimeSpan _grace;
    private TimeSpan _maxSilence;
    private long _receivedAtLastCheck;
    private long _silentSinceTimestamp;
    private volatile bool _active;
    private volatile int _generation;
    private volatile bool _tooSlow;

    public BodyRateGuard(TimeProvider timeProvider) => _timeProvider = timeProvider;

    /// <summary>
    /// The reader of the body, whose pending read is cancelled when the body falls behind; set before a start (state
    /// reused across connections points it at each one's), and null once its connection ended. A check trips under
    /// the lock this is set under, so once a connection let go of its reader, no check reaches it (the lock is
    /// re-entrant, for a reader the cancel continues inline).
    /// </summary>
    public PipeReader? Source
    {
        get => _source;
        set
        {
            lock (_sourceLock)
            {
                _source = value;
            }
        }
    }

    /// <summary>True once the body fell behind the minimum rate.</summary>
    public bool TooSlow => _tooSlow;

    /// <summary>Starts measuring a body against a minimum average rate. A rate of 0 disables the guard.</summary>
    public void Start(long minBytesPerSecond, TimeSpan grace)
    {
        _tooSlow = false;
        Volatile.Write(ref _received, 0);
        if (minBytesPerSecond <= 0)
        {
            return;
        }

        Arm(minBytesPerSecond, grace, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Starts watching a body for silence: no byte for <paramref name="maxSilence"/> trips the guard.</summary>
    public void StartSilence(TimeSpan maxSilence)
    {
        _tooSlow = false;
        Arm(0, TimeSpan.Zero, maxSilence);
    }

    private void Arm(long minBytesPerSecond, TimeSpan grace, TimeSpan maxSilence)
    {
        // A new body: a check still deciding about the last one must not trip this one (see Check).
        _generation++;
        Volatile.Write(ref _received, 0);
        _minBytesPerSecond = minBytesPerSecond;
        _grace = grace;
        _maxSilence = maxSilence;
        _receivedAtLastCheck = 0;
        _startTimestamp = _silentSinceTimestamp = _timeProvider.GetTimestamp();
        _active = true;
        // Created by the first body watched: most connections never need it (a response that comes with its head).
        _timer ??= _timeProvider.CreateTimer(static state => ((BodyRateGuard)state!).Check(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timer.Change(CheckInterval, CheckInterval);
    }

    public void Received(long bytes) => Interlocked.Add(ref _received, bytes);

    /// <summary>Bytes received since the last start: the body's size so far.</summary>
    public long ReceivedBytes => Volatile.Read(ref _received);

    public void Stop()
    {
        _active = false;
        _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private void Check()
    {
        // The body this check is about: read before anything else, compared again before tripping.
        int generation = _generation;
        if (!_active)
        {
            return;
        }

        long received = Volatile.Read(ref _received);
        bool behind;
        if (_maxSilence != Timeout.InfiniteTimeSpan)
        {
            if (received != _receivedAtLastCheck)
            {
                _receivedAtLastCheck = received;
                _silentSinceTimestamp = _timeProvider.GetTimestamp();
            }

            behind = _timeProvider.GetElapsedTime(_silentSinceTimestamp) >= _maxSilence;
        }
        else
        {
            TimeSpan elapsed = _timeProvider.GetElapsedTime(_startTimestamp);
            behind = elapsed > _grace && received < _minBytesPerSecond * elapsed.TotalSeconds;
        }

        if (!behind)
        {
            return;
        }

        lock (_sourceLock)
        {
            // Stopped, or another body (perhaps another connection's) started while this check measured the last one.
            if (!_active || _generation != generation)
            {
                return;
            }

            _tooSlow = true;
            _active = false;
            _source?.CancelPendingRead();
        }
    }

    /// <summary>Stops the checks and lets go of the reader (a check already running cannot reach it afterwards).</summary>
    public void Dispose()
    {
        _timer?.Dispose();
        Source = null;
    }
}
