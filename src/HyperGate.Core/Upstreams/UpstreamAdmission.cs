namespace HyperGate.Upstreams;

/// <summary>
/// An upstream's caps: at most <c>max_in_flight</c> requests forwarded at once (with HTTP/1.1 each holds one
/// upstream connection, so this also caps busy connections); past it, up to <c>max_pending</c> requests wait
/// for a slot (no longer than the connect timeout) and any more are answered 503 at once.
/// </summary>
public sealed class UpstreamAdmission(int maxInFlight, int maxPending)
{
    private readonly SemaphoreSlim _slots = new(maxInFlight, maxInFlight);
    private int _pending;

    public int MaxInFlight { get; } = maxInFlight;

    public int MaxPending { get; } = maxPending;

    /// <summary>Requests waiting for a slot now.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>Raised when a request starts waiting for a slot, with the number now waiting.</summary>
    public event Action<int>? Waiting;

    /// <summary>Takes a slot if one is free now (the common case: no allocation).</summary>
    public bool TryEnter() => _slots.Wait(0);

    /// <summary>Waits for a slot as one of the pending requests; false when too many wait already or none frees in time.</summary>
    public async ValueTask<bool> WaitAsync(TimeSpan timeout, TimeProvider time)
    {
        int pending = Interlocked.Increment(ref _pending);
        if (pending > MaxPending)
        {
            Interlocked.Decrement(ref _pending);
            return false;
        }

        Waiting?.Invoke(pending);

        try
        {
            using var cancel = new CancellationTokenSource(timeout, time);
            await _slots.WaitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            Interlocked.Decrement(ref _pending);
        }
    }

    public void Exit() => _slots.Release();
}
