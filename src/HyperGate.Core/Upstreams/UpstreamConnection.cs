using System.IO.Pipelines;
using HyperGate.Http1;
using HyperGate.Transport;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Upstreams;

/// <summary>A connection to one destination. It goes back to its pool only when its last exchange was read completely.</summary>
public sealed class UpstreamConnection : IAsyncDisposable
{
    private readonly ConnectionContext _context;
    private readonly UpstreamConnectionState _state;
    private readonly UpstreamConnectionStates _states;
    private int _disposed;

    internal UpstreamConnection(ConnectionContext context, ConnectionPool pool, UpstreamConnectionState state, UpstreamConnectionStates states)
    {
        _context = context;
        Pool = pool;
        _state = state;
        _states = states;
        state.Attach(context.Transport.Input);
    }

    public PipeReader Input => _context.Transport.Input;

    public PipeWriter Output => _context.Transport.Output;

    public ConnectionPool Pool { get; }

    /// <summary>Reused for every response read on this connection (and on later connections).</summary>
    public ResponseHead ResponseHead => _state.ResponseHead;

    /// <summary>Watches response bodies for an upstream that goes silent mid-body.</summary>
    public BodyRateGuard BodyGuard => _state.BodyGuard;

    /// <summary>An HTTP/2 stream the upstream said it never processed (GOAWAY, REFUSED_STREAM): safe to send again.</summary>
    public bool Unprocessed => _context is Http2.UpstreamStreamConnection { Unprocessed: true };

    /// <summary>How many exchanges this connection carried before the current one.</summary>
    public int CompletedExchanges { get; internal set; }

    internal long IdleSinceTimestamp { get; set; }

    /// <summary>True when the armed timeout fired; the pending read on <see cref="Input"/> was cancelled.</summary>
    public bool TimedOut => _state.ResponseDeadline.Expired;

    /// <summary>
    /// Arms (or re-arms) the response timeout. It cancels the pending read rather than a token, and the deadline
    /// lives as long as the connection, so arming it costs no allocation.
    /// </summary>
    public void ArmTimeout(TimeSpan timeout) => _state.ResponseDeadline.Arm(timeout);

    public void DisarmTimeout() => _state.ResponseDeadline.Disarm();

    /// <summary>Breaks the connection at once: pending reads and writes on it complete.</summary>
    public void Abort() => _context.Abort();

    /// <summary>
    /// True when the connection can carry a new request: the peer has not closed it and sent nothing unasked.
    /// Kestrel's socket transport keeps receiving in the background, so a FIN shows up as a completed read.
    /// </summary>
    internal bool IsUsable()
    {
        if (!Input.TryRead(out ReadResult result))
        {
            return true;
        }

        bool usable = !result.IsCompleted && !result.IsCanceled && result.Buffer.IsEmpty;
        Input.AdvanceTo(result.Buffer.Start);
        return usable;
    }

    /// <summary>Closes the connection; its state serves a later one (once: a second dispose does nothing).</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return ValueTask.CompletedTask;
        }

        _states.Return(_state);
        _context.Abort();
        return _context.DisposeAsync();
    }

    /// <summary>
    /// Closes the connection without waiting for its socket. Its pool closes only connections nothing uses any more
    /// (idle ones, and ones given back once their exchange's copies have ended), so the transport connection may
    /// serve a later socket, and the state a later connection (once: a second close does nothing).
    /// </summary>
    internal void Close()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _states.Return(_state);
        _context.Abort();
        if (_context is IRecyclableConnection recyclable)
        {
            recyclable.CloseAndRecycle();
        }
        else
        {
            _ = _context.DisposeAsync();
        }
    }
}
