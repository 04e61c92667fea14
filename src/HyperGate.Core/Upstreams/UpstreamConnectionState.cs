using System.Collections.Concurrent;
using System.IO.Pipelines;
using HyperGate.Http1;

namespace HyperGate.Upstreams;

/// <summary>
/// What an upstream connection needs besides its socket: the connect timeout, the response head with its buffers,
/// the response deadline and the body guard (about 1.7 KB in a dozen objects, three of them timers). Kept when the
/// connection closes (or fails to open) and given to the next one opened, so that re-opening connections (after an
/// idle timeout, or with idle connections off) does not allocate it again. A timer callback of the previous
/// connection that comes late finds its deadline disarmed and does nothing.
/// </summary>
internal sealed class UpstreamConnectionState(TimeProvider time) : IDisposable
{
    private CancellationTokenSource _connectTimeout = new();

    public ResponseHead ResponseHead { get; } = new();

    public ReadDeadline ResponseDeadline { get; } = new(time);

    public BodyRateGuard BodyGuard { get; } = new(time);

    /// <summary>A token cancelled when connecting takes longer than <paramref name="timeout"/> (or <see cref="CancelConnect"/> is called).</summary>
    public CancellationToken StartConnect(TimeSpan timeout)
    {
        _connectTimeout.CancelAfter(timeout);
        return _connectTimeout.Token;
    }

    public void CancelConnect() => _connectTimeout.Cancel();

    /// <summary>The connect is over: its timeout is stopped for reuse, or replaced when it fired.</summary>
    public void EndConnect()
    {
        if (!_connectTimeout.TryReset())
        {
            _connectTimeout.Dispose();
            _connectTimeout = new CancellationTokenSource();
        }
    }

    public void Attach(PipeReader input)
    {
        ResponseDeadline.Input = input;
        BodyGuard.Source = input;
    }

    /// <summary>The connection is closing: the timers let go of its reader, which may serve another connection next.</summary>
    public void Detach()
    {
        ResponseDeadline.Disarm();
        ResponseDeadline.Input = null;
        BodyGuard.Stop();
        BodyGuard.Source = null;
    }

    public void Dispose()
    {
        _connectTimeout.Dispose();
        ResponseDeadline.Dispose();
        BodyGuard.Dispose();
        ResponseHead.Dispose();
    }
}

/// <summary>Idle <see cref="UpstreamConnectionState"/>s shared by every pool of a manager: enough for a burst of new connections, bounded for memory.</summary>
internal sealed class UpstreamConnectionStates(TimeProvider time) : IDisposable
{
    public const int MaxIdle = 1024;

    private readonly ConcurrentQueue<UpstreamConnectionState> _idle = new();
    private int _idleCount;

    public UpstreamConnectionState Rent()
    {
        if (_idle.TryDequeue(out UpstreamConnectionState? state))
        {
            Interlocked.Decrement(ref _idleCount);
            return state;
        }

        return new UpstreamConnectionState(time);
    }

    public void Return(UpstreamConnectionState state)
    {
        state.Detach();
        if (Interlocked.Increment(ref _idleCount) <= MaxIdle)
        {
            _idle.Enqueue(state);
            return;
        }

        Interlocked.Decrement(ref _idleCount);
        state.Dispose();
    }

    public void Dispose()
    {
        while (_idle.TryDequeue(out UpstreamConnectionState? state))
        {
            Interlocked.Decrement(ref _idleCount);
            state.Dispose();
        }
    }
}
