using System.IO.Pipelines;

namespace HyperGate.Http1;

/// <summary>
/// Enforces a minimum average data rate on a request body, against clients that trickle a body to hold a
/// connection and an upstream request open. After a grace period, a check every quarter second compares the
/// bytes received with the rate; when behind, it cancels the pending read and the copy ends with
/// <see cref="BodyCopyResult.SourceTooSlow"/>. One guard (and one timer) per connection, re-armed per body.
/// </summary>
public sealed class BodyRateGuard : IDisposable
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(250);
    private readonly PipeReader _source;
    private readonly TimeProvider _timeProvider;
    private readonly ITimer _timer;
    private long _received;
    private long _startTimestamp;
    private long _minBytesPerSecond;
    private TimeSpan _grace;
    private volatile bool _active;
    private volatile bool _tooSlow;

    public BodyRateGuard(PipeReader source, TimeProvider timeProvider)
    {
        _source = source;
        _timeProvider = timeProvider;
        _timer = timeProvider.CreateTimer(static state => ((BodyRateGuard)state!).Check(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>True once the body fell behind the minimum rate.</summary>
    public bool TooSlow => _tooSlow;

    /// <summary>Starts measuring a body. A rate of 0 disables the guard.</summary>
    public void Start(long minBytesPerSecond, TimeSpan grace)
    {
        _tooSlow = false;
        if (minBytesPerSecond <= 0)
        {
            return;
        }

        Volatile.Write(ref _received, 0);
        _minBytesPerSecond = minBytesPerSecond;
        _grace = grace;
        _startTimestamp = _timeProvider.GetTimestamp();
        _active = true;
        _timer.Change(CheckInterval, CheckInterval);
    }

    public void Received(long bytes) => Interlocked.Add(ref _received, bytes);

    public void Stop()
    {
        _active = false;
        _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private void Check()
    {
        if (!_active)
        {
            return;
        }

        TimeSpan elapsed = _timeProvider.GetElapsedTime(_startTimestamp);
        if (elapsed > _grace && Volatile.Read(ref _received) < _minBytesPerSecond * elapsed.TotalSeconds)
        {
            _tooSlow = true;
            _active = false;
            _source.CancelPendingRead();
        }
    }

    public void Dispose() => _timer.Dispose();
}
