using System.IO.Pipelines;
using HyperGate.Http1;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.Http1;

public class BodyRateGuardTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly Pipe _pipe = new();

    [Fact]
    public async Task SlowBody_AfterGrace_IsFlagged_AndThePendingReadCancelled()
    {
        using var guard = new BodyRateGuard(_time) { Source = _pipe.Reader };
        guard.Start(minBytesPerSecond: 100, grace: TimeSpan.FromSeconds(1));
        ValueTask<ReadResult> pending = _pipe.Reader.ReadAsync();
        guard.Received(50);

        _time.Advance(TimeSpan.FromMilliseconds(750));
        Assert.False(guard.TooSlow);
        Assert.False(pending.IsCompleted);

        _time.Advance(TimeSpan.FromMilliseconds(750));
        Assert.True(guard.TooSlow);
        Assert.True((await pending).IsCanceled);
    }

    [Fact]
    public void AReaderLetGo_IsNotCancelledWhenTheBodyFallsBehind()
    {
        // Its connection ended mid-body; the reader may serve another connection now.
        using var guard = new BodyRateGuard(_time) { Source = _pipe.Reader };
        guard.Start(minBytesPerSecond: 100, grace: TimeSpan.FromSeconds(1));
        guard.Source = null;
        ValueTask<ReadResult> pending = _pipe.Reader.ReadAsync();

        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.False(pending.IsCompleted);
    }

    [Fact]
    public void BodyKeepingTheRate_IsNotFlagged()
    {
        using var guard = new BodyRateGuard(_time) { Source = _pipe.Reader };
        guard.Start(minBytesPerSecond: 100, grace: TimeSpan.FromSeconds(1));
        for (int i = 0; i < 20; i++)
        {
            guard.Received(30);
            _time.Advance(TimeSpan.FromMilliseconds(250));
        }

        Assert.False(guard.TooSlow);
    }

    [Fact]
    public void ZeroRate_DisablesTheGuard_AndStopEndsTheChecks()
    {
        using var guard = new BodyRateGuard(_time) { Source = _pipe.Reader };
        guard.Start(minBytesPerSecond: 0, grace: TimeSpan.Zero);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(guard.TooSlow);

        guard.Start(minBytesPerSecond: 1000, grace: TimeSpan.Zero);
        guard.Stop();
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(guard.TooSlow);
    }

    [Fact]
    public async Task Silence_LongerThanAllowed_IsFlagged_AndThePendingReadCancelled()
    {
        using var guard = new BodyRateGuard(_time) { Source = _pipe.Reader };
        guard.StartSilence(TimeSpan.FromSeconds(1));
        ValueTask<ReadResult> pending = _pipe.Reader.ReadAsync();

        // Bytes keep arriving, however slowly: never flagged.
        for (int i = 0; i < 12; i++)
        {
            guard.Received(1);
            _time.Advance(TimeSpan.FromMilliseconds(500));
        }

        Assert.False(guard.TooSlow);
        _time.Advance(TimeSpan.FromMilliseconds(750));
        Assert.False(guard.TooSlow);
        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(guard.TooSlow);
        Assert.True((await pending).IsCanceled);
    }
}
