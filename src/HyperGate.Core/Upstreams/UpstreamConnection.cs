using System.IO.Pipelines;
using HyperGate.Http1;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Upstreams;

/// <summary>A connection to one destination. It goes back to its pool only when its last exchange was read completely.</summary>
public sealed class UpstreamConnection : IAsyncDisposable
{
    private readonly ConnectionContext _context;
    private CancellationTokenSource _timeout = new();

    internal UpstreamConnection(ConnectionContext context, ConnectionPool pool)
    {
        _context = context;
        Pool = pool;
    }

    public PipeReader Input => _context.Transport.Input;

    public PipeWriter Output => _context.Transport.Output;

    public ConnectionPool Pool { get; }

    /// <summary>Reused for every response read on this connection.</summary>
    public ResponseHead ResponseHead { get; } = new();

    /// <summary>How many exchanges this connection carried before the current one.</summary>
    public int CompletedExchanges { get; internal set; }

    internal long IdleSinceTimestamp { get; set; }

    /// <summary>
    /// A token that fires after <paramref name="timeout"/>. The source is reset and reused for every exchange,
    /// so arming a timeout costs no allocation unless the previous one fired.
    /// </summary>
    public CancellationToken StartTimeout(TimeSpan timeout)
    {
        if (!_timeout.TryReset())
        {
            _timeout.Dispose();
            _timeout = new CancellationTokenSource();
        }

        _timeout.CancelAfter(timeout);
        return _timeout.Token;
    }

    public void StopTimeout() => _timeout.CancelAfter(Timeout.InfiniteTimeSpan);

    /// <summary>Re-arms the running timeout, for example once the request body is fully sent.</summary>
    public void ExtendTimeout(TimeSpan timeout) => _timeout.CancelAfter(timeout);

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

    public async ValueTask DisposeAsync()
    {
        _timeout.Dispose();
        ResponseHead.Dispose();
        _context.Abort();
        await _context.DisposeAsync();
    }
}
