using HyperGate.Upstreams;

namespace HyperGate.Tests.Upstreams;

public sealed class UpstreamConnectionStateTests
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);

    [Fact]
    public void AConnectThatEndedInTime_LeavesItsTimeoutForTheNextConnect()
    {
        using var state = new UpstreamConnectionState(TimeProvider.System);
        CancellationToken first = state.StartConnect(Long);
        state.EndConnect();

        CancellationToken second = state.StartConnect(Long);

        Assert.Equal(first, second);
        Assert.False(second.IsCancellationRequested);
    }

    [Fact]
    public void AConnectCancelled_LeavesAFreshTimeout_SoTheNextConnectIsNotCancelledAtOnce()
    {
        using var state = new UpstreamConnectionState(TimeProvider.System);
        CancellationToken first = state.StartConnect(Long);
        state.CancelConnect();
        state.EndConnect();

        CancellationToken second = state.StartConnect(Long);

        Assert.True(first.IsCancellationRequested);
        Assert.NotEqual(first, second);
        Assert.False(second.IsCancellationRequested);
    }
}
