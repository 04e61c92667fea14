using System.Threading.Tasks.Sources;

namespace HyperGate.Http2;

/// <summary>
/// A reusable signal between a stream's long-lived loops and their owner (start the next use, this use is done),
/// awaited by one waiter at a time. Made once per stream object, so that the stream's uses allocate nothing: an
/// async method per use would allocate its state whenever it waits, and a relay always waits.
/// </summary>
internal sealed class StreamSignal : IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _core;

    /// <summary>Arms the signal for its next <see cref="Set"/>; called before anyone could set it again.</summary>
    public void Reset() => _core.Reset();

    /// <summary>Wakes the waiter (inline, on the caller's thread), or completes the next wait at once.</summary>
    public void Set() => _core.SetResult(true);

    public ValueTask WaitAsync() => new(this, _core.Version);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
