using System.IO.Pipelines;
using HyperGate.Http1;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.Http1;

public class ReadDeadlineTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly CountingTimeProvider _time = new();
    private readonly Pipe _pipe = new();

    [Fact]
    public async Task APassedDeadline_CancelsThePendingRead_AndSaysSo()
    {
        using var deadline = new ReadDeadline(_time) { Input = _pipe.Reader };
        deadline.Arm(Timeout);
        ValueTask<ReadResult> pending = _pipe.Reader.ReadAsync();

        _time.Advance(Timeout - TimeSpan.FromTicks(1));
        Assert.False(pending.IsCompleted);
        Assert.False(deadline.Expired);

        _time.Advance(TimeSpan.FromTicks(1));
        Assert.True((await pending).IsCanceled);
        Assert.True(deadline.Expired);
    }

    [Fact]
    public void ADisarmedDeadline_NeverCancels()
    {
        using var deadline = new ReadDeadline(_time) { Input = _pipe.Reader };
        deadline.Arm(Timeout);
        deadline.Disarm();
        ValueTask<ReadResult> pending = _pipe.Reader.ReadAsync();

        _time.Advance(Timeout * 3);
        Assert.False(pending.IsCompleted);
        Assert.False(deadline.Expired);
    }

    [Fact]
    public void AReaderLetGo_IsNotCancelledByALaterExpiry()
    {
        // Its connection ended while the deadline was armed; the reader may serve another connection now.
        using var deadline = new ReadDeadline(_time) { Input = _pipe.Reader };
        deadline.Arm(Timeout);
        deadline.Input = null;
        ValueTask<ReadResult> pending = _pipe.Reader.ReadAsync();

        _time.Advance(Timeout * 2);
        Assert.False(pending.IsCompleted);
    }

    [Fact]
    public async Task ReArmedLater_TheEarlierTimerSetsItselfForTheRest()
    {
        using var deadline = new ReadDeadline(_time) { Input = _pipe.Reader };
        deadline.Arm(Timeout);
        deadline.Disarm();
        _time.Advance(TimeSpan.FromSeconds(4));
        deadline.Arm(Timeout);
        ValueTask<ReadResult> pending = _pipe.Reader.ReadAsync();

        // The timer set for the first deadline fires at 10 s: the second one (14 s) has not passed.
        _time.Advance(TimeSpan.FromSeconds(6));
        Assert.False(pending.IsCompleted);

        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.True((await pending).IsCanceled);
        Assert.True(deadline.Expired);
    }

    [Fact]
    public async Task ReArmedShorter_FiresAtTheShorterDeadline()
    {
        using var deadline = new ReadDeadline(_time) { Input = _pipe.Reader };
        deadline.Arm(Timeout);
        deadline.Arm(TimeSpan.FromSeconds(2));
        ValueTask<ReadResult> pending = _pipe.Reader.ReadAsync();

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.True((await pending).IsCanceled);
    }

    [Fact]
    public void ArmingAgain_WithALaterDeadline_DoesNotMoveTheTimer()
    {
        using var deadline = new ReadDeadline(_time) { Input = _pipe.Reader };
        for (int request = 0; request < 100; request++)
        {
            deadline.Arm(Timeout);
            _time.Advance(TimeSpan.FromMilliseconds(1));
            deadline.Disarm();
        }

        // Set once at the first arm; the 99 later deadlines were all after it.
        Assert.Equal(1, _time.TimerChanges);

        // At 10 s the timer fires, finds the last deadline still disarmed, and stays off.
        _time.Advance(Timeout);
        Assert.Equal(1, _time.TimerChanges);
        Assert.False(deadline.Expired);
    }

    [Fact]
    public void ArmingAgain_ClearsAnEarlierExpiry()
    {
        using var deadline = new ReadDeadline(_time) { Input = _pipe.Reader };
        deadline.Arm(Timeout);
        _time.Advance(Timeout);
        Assert.True(deadline.Expired);

        deadline.Arm(Timeout);
        Assert.False(deadline.Expired);
    }

    [Fact]
    public void AnInfiniteTimeout_Disarms()
    {
        using var deadline = new ReadDeadline(_time) { Input = _pipe.Reader };
        deadline.Arm(Timeout);
        deadline.Arm(System.Threading.Timeout.InfiniteTimeSpan);

        _time.Advance(Timeout * 2);
        Assert.False(deadline.Expired);
    }

    /// <summary>Fake time whose timers count how often they are moved.</summary>
    private sealed class CountingTimeProvider : FakeTimeProvider
    {
        public int TimerChanges { get; private set; }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            new CountingTimer(base.CreateTimer(callback, state, dueTime, period), this);

        private sealed class CountingTimer(ITimer inner, CountingTimeProvider owner) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                owner.TimerChanges++;
                return inner.Change(dueTime, period);
            }

            public void Dispose() => inner.Dispose();

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
