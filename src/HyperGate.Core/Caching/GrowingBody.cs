namespace HyperGate.Caching;

/// <summary>
/// A body arriving from the origin into the array it will be stored in, readable while it arrives: requests
/// coalesced behind the fetch stream it to their clients as it comes. The leader writes only past what it has
/// published; readers read only up to it.
/// </summary>
internal sealed class GrowingBody(byte[] body)
{
    // The object is its own lock: a lock object of its own would be one more allocation per miss (nothing else
    // locks a body).
    private object Gate => this;
    private int _filled;
    private bool? _whole;
    private TaskCompletionSource? _waiting;

    public byte[] Array => body;

    /// <summary>Whether the body was cut short (a reader that has written nothing yet goes upstream instead).</summary>
    public bool CutShort
    {
        get
        {
            lock (Gate)
            {
                return _whole == false;
            }
        }
    }

    /// <summary>The first <paramref name="filled"/> bytes are in place.</summary>
    public void Advance(int filled)
    {
        TaskCompletionSource? waiting;
        lock (Gate)
        {
            _filled = filled;
            (waiting, _waiting) = (_waiting, null);
        }

        waiting?.TrySetResult();
    }

    /// <summary>No more bytes will come: the body is <paramref name="whole"/>, or was cut short.</summary>
    public void End(bool whole)
    {
        TaskCompletionSource? waiting;
        lock (Gate)
        {
            _whole ??= whole;
            (waiting, _waiting) = (_waiting, null);
        }

        waiting?.TrySetResult();
    }

    /// <summary>Waits until more than <paramref name="seen"/> bytes are in place or the body ended; returns how many are, and whether it ended whole (null: still arriving).</summary>
    public async ValueTask<(int Filled, bool? Whole)> WaitAsync(int seen)
    {
        Task more;
        lock (Gate)
        {
            if (_filled > seen || _whole is not null)
            {
                return (_filled, _whole);
            }

            // Only a fetch with readers waiting allocates a signal.
            _waiting ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            more = _waiting.Task;
        }

        await more;
        lock (Gate)
        {
            return (_filled, _whole);
        }
    }
}
