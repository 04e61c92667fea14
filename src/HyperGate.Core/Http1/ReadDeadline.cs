using System.IO.Pipelines;

namespace HyperGate.Http1;

/// <summary>
/// A deadline for the pending read on a connection (the next request head, an upstream's response head): when it
/// passes, the read is cancelled and <see cref="Expired"/> says why. It is armed and disarmed around every wait, so
/// both are cheap: disarming writes the deadline away, and arming writes it and moves the timer only when the timer
/// would fire too late. A timer that fires before the deadline (which moved on since the timer was set) sets itself
/// for the rest, so a busy connection moves its timer about once per timeout instead of twice per request. Moving
/// a timer takes the timer queue's lock: at four moves per proxied request that was 1.6% of the proxy's time.
/// </summary>
public sealed class ReadDeadline : IDisposable
{
    private const long None = long.MaxValue;

    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly Lock _timerLock = new();
    private long _deadline = None;
    private long _timerDue = None;
    private PipeReader? _input;
    private volatile bool _expired;

    public ReadDeadline(TimeProvider time)
    {
        _time = time;
        _timer = time.CreateTimer(static state => ((ReadDeadline)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// The reader whose pending read an expiry cancels; set before the first arm (state reused across connections
    /// points it at each one's), and null once its connection ended. An expiry cancels under the timer's lock and
    /// this is set under it, so once a connection let go of its reader, no expiry of this deadline reaches it: the
    /// reader may then serve another connection. (The lock is re-entrant: a reader that the cancel continues inline
    /// may arm, disarm and let go on the same thread.)
    /// </summary>
    public PipeReader? Input
    {
        get => _input;
        set
        {
            lock (_timerLock)
            {
                _input = value;
            }
        }
    }

    /// <summary>True when the deadline last armed passed and cancelled the pending read.</summary>
    public bool Expired => _expired;

    /// <summary>The read must complete within <paramref name="timeout"/> from now (a negative one, such as infinite, disarms).</summary>
    public void Arm(TimeSpan timeout) => ArmUntil(DeadlineAfter(timeout));

    /// <summary>
    /// The timestamp <paramref name="timeout"/> from now, for <see cref="ArmUntil"/>: a deadline fixed once and armed
    /// for several reads, such as a request head's, which counts from its first byte however the rest trickles in.
    /// A negative timeout (infinite) gives no deadline.
    /// </summary>
    public long DeadlineAfter(TimeSpan timeout) => timeout < TimeSpan.Zero
        ? None
        : _time.GetTimestamp() + (long)((Int128)timeout.Ticks * _time.TimestampFrequency / TimeSpan.TicksPerSecond);

    /// <summary>The read must complete by <paramref name="deadline"/> (a <see cref="DeadlineAfter"/> timestamp; one already past expires at once).</summary>
    public void ArmUntil(long deadline)
    {
        _expired = false;
        if (deadline == None)
        {
            Disarm();
            return;
        }

        long now = _time.GetTimestamp();

        // A full fence between writing the deadline and reading when the timer is due: the timer's callback clears
        // the due time and then reads the deadline, so at least one side sees the other's write.
        Interlocked.Exchange(ref _deadline, deadline);
        if (Volatile.Read(ref _timerDue) > deadline)
        {
            lock (_timerLock)
            {
                SetTimer(deadline, now);
            }
        }
    }

    public void Disarm() => Volatile.Write(ref _deadline, None);

    /// <summary>Stops the timer and lets go of the reader (a callback already running cannot reach it afterwards).</summary>
    public void Dispose()
    {
        _timer.Dispose();
        Input = null;
    }

    private void OnTimer()
    {
        lock (_timerLock)
        {
            Interlocked.Exchange(ref _timerDue, None);
            while (true)
            {
                long deadline = Volatile.Read(ref _deadline);
                if (deadline == None)
                {
                    return;
                }

                long now = _time.GetTimestamp();
                if (now < deadline)
                {
                    SetTimer(deadline, now);
                    return;
                }

                // Expires only the wait it was armed for: a disarm or a new arm since the read above wins.
                if (Interlocked.CompareExchange(ref _deadline, None, deadline) == deadline)
                {
                    break;
                }
            }

            _expired = true;
            _input?.CancelPendingRead();
        }
    }

    /// <summary>Makes the timer fire by <paramref name="deadline"/> (called under the lock).</summary>
    private void SetTimer(long deadline, long now)
    {
        if (deadline >= _timerDue)
        {
            return;
        }

        _timerDue = deadline;

        // Rounded up to the millisecond, so a real timer does not fire a hair early and set itself again; a deadline
        // already past fires at once.
        TimeSpan dueIn = TimeSpan.FromMilliseconds(Math.Max(0, Math.Ceiling(_time.GetElapsedTime(now, deadline).TotalMilliseconds)));
        _timer.Change(dueIn, Timeout.InfiniteTimeSpan);
    }
}
