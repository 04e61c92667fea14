using System.Threading.Tasks.Sources;

namespace HyperGate.Transport;

/// <summary>
/// A readiness edge reported by the loop (a socket writable, a listening socket with connections waiting), awaited by
/// one waiter at a time. An edge that came while nobody waited is remembered, so a wait started just after it returns
/// at once and the caller simply tries its system call again. A mutable struct kept in a field of its owner, which is
/// the waits' <see cref="IValueTaskSource"/> and passes its calls on: the edge is signalled on every socket event, so
/// its state stays in the owner's own memory rather than in an object of its own.
/// </summary>
internal struct EdgeSignal
{
    private const int Idle = 0;
    private const int Waiting = 1;
    private const int Signaled = 2;

    private ManualResetValueTaskSourceCore<bool> _core;
    private int _state;

    public EdgeSignal(bool runContinuationsAsynchronously) => _core.RunContinuationsAsynchronously = runContinuationsAsynchronously;

    /// <summary>Completes at the next edge, or at once if one came since the last wait; <paramref name="owner"/> passes its calls here.</summary>
    public ValueTask WaitAsync(IValueTaskSource owner)
    {
        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) == Signaled)
        {
            Volatile.Write(ref _state, Idle);
            return ValueTask.CompletedTask;
        }

        return new ValueTask(owner, _core.Version);
    }

    /// <summary>An edge (or a waiter to wake anyway): the waiter, if any, tries again.</summary>
    public void Signal()
    {
        if (Interlocked.Exchange(ref _state, Signaled) == Waiting)
        {
            Volatile.Write(ref _state, Idle);
            _core.SetResult(true);
        }
    }

    /// <summary>Forgets a remembered edge: the signal's next user starts afresh.</summary>
    public void Reset() => Volatile.Write(ref _state, Idle);

    public void GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
