using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace HyperGate.Transport;

/// <summary>
/// A TCP connection whose I/O runs on its <see cref="EventLoop"/>. Receiving: when epoll reports the socket readable,
/// the loop reads into the input pipe and flushes it, and the pipe runs its reader (the gateway's request loop) right
/// there. A read shorter than the buffer emptied the socket, so the next read waits for the next edge: one recv per
/// message, and no buffer is held by an idle connection. Sending: see <see cref="SocketOutput"/>, whose flush
/// sends at the loop's end of turn (at once, off the loop's thread); only a full socket waits for the writable edge. The object, with its pipe and output, serves
/// one socket after another when its owners say it may (<see cref="IRecyclableConnection"/>): its loop keeps it once
/// the last owner has seen it closed.
/// </summary>
internal sealed partial class EventLoopConnection : ConnectionContext,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IMemoryPoolFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature, IValueTaskSource, IDuplexPipe, IRecyclableConnection
{
    /// <summary>Full reads in a row before the loop serves its other sockets (a fast large body must not starve them).</summary>
    private const int ReadsPerTurn = 4;

    private static readonly Action<object?> s_continueReceive = static state => ((EventLoopConnection)state!).Receive();
    private static readonly Action<object?> s_startReceive = static state => ((EventLoopConnection)state!).OnEvents(LinuxSockets.EPOLLIN);
    private static readonly Action<object?> s_abortReceive = static state => ((EventLoopConnection)state!).CompleteReceive(null);
    private static readonly Action<object?> s_close = static state => ((EventLoopConnection)state!).CloseOnLoop();
    private static long s_lastId;

    private readonly EventLoop _loop;
    private readonly Pipe _input;
    private readonly SocketOutput _output;
    private readonly CloseSignal _closedOnLoop;
    private int _fd = -1;
    private long _id;
    private SocketAddressBytes _peerAddress;
    private bool _hasPeerAddress;
    private EndPoint? _localEndPoint;
    private EndPoint? _remoteEndPoint;
    private Action? _resumeReceive;
    private CancellationTokenSource? _closedSource;
    private CancellationToken? _closedToken;
    private EdgeSignal _writable;
    private int _closed;
    private int _disposing;
    private ValueTask _disposal;
    private ValueTask _closeAfterDrain;
    private int _recycle;
    private ValueTask<FlushResult> _pendingFlush;
    private ConnectionAbortedException? _abortReason;
    private volatile bool _aborted;
    private string? _connectionId;
    private IDictionary<object, object?>? _items;

    private volatile bool _started;

    // Receive state, touched only on the loop's thread.
    private bool _readable;
    private bool _peerClosing;
    private bool _receivePaused;
    private bool _receiveDone;

    /// <summary>A connection object of <paramref name="loop"/>'s, not yet serving a socket (see <see cref="EventLoop.Connection"/>).</summary>
    internal EventLoopConnection(EventLoop loop)
    {
        _loop = loop;
        MemoryPool = loop.Pool;
        _input = new Pipe(loop.ReceiveOptions);
        _output = new SocketOutput(this, loop);
        _closedOnLoop = new CloseSignal(this);
        Transport = this;
    }

    /// <summary>
    /// Starts serving the non-blocking socket <paramref name="fd"/>, whose peer's address (as accept wrote it) may
    /// be given; everything of the socket before it was reset when that one closed. The connection owns the socket.
    /// </summary>
    internal void Open(int fd, ReadOnlySpan<byte> peerAddress)
    {
        _fd = fd;
        _id = Interlocked.Increment(ref s_lastId);
        _hasPeerAddress = peerAddress.Length > 0;
        peerAddress.CopyTo(_peerAddress);
        _output.Open(fd);
        LinuxSockets.SetNoDelay(fd);
    }

    /// <summary>The loop that runs this connection's I/O.</summary>
    internal EventLoop Loop => _loop;

    /// <summary>The loop's key for this socket's events.</summary>
    internal ulong Token { get; set; }

    public override string ConnectionId
    {
        get => _connectionId ??= $"hg-{_id:x}";
        set => _connectionId = value;
    }

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    /// <summary>The connection itself, unless replaced (by a TLS layer, say).</summary>
    public override IDuplexPipe Transport { get; set; }

    PipeReader IDuplexPipe.Input => _input.Reader;

    PipeWriter IDuplexPipe.Output => _output;

    /// <summary>Made when first asked for: nothing in the gateway watches it, so most connections never make it.</summary>
    public override CancellationToken ConnectionClosed
    {
        get
        {
            if (_closedToken is { } set)
            {
                return set;
            }

            CancellationTokenSource? source = Volatile.Read(ref _closedSource);
            if (source is null)
            {
                var created = new CancellationTokenSource();
                source = Interlocked.CompareExchange(ref _closedSource, created, null) ?? created;

                // Closed before anyone asked: the close found no source to cancel. (The close sets the flag and then
                // reads the source, this the other way round, each with a full fence: one of the two sees the other.)
                if (Volatile.Read(ref _closed) == 1)
                {
                    source.Cancel();
                }
            }

            return source.Token;
        }

        set => _closedToken = value;
    }

    /// <summary>Asked of the socket on first use (nothing in the gateway asks): null once it is closed.</summary>
    public override EndPoint? LocalEndPoint
    {
        get => _localEndPoint ??= AddressOf(peer: false);
        set => _localEndPoint = value;
    }

    /// <summary>Made on first use, from the address accept gave (or the one connected to).</summary>
    public override EndPoint? RemoteEndPoint
    {
        get => _remoteEndPoint ??= _hasPeerAddress ? LinuxSockets.ToEndPoint(_peerAddress) : AddressOf(peer: true);
        set => _remoteEndPoint = value;
    }

    public MemoryPool<byte> MemoryPool { get; }

    /// <summary>Starts an accepted connection: its events go to the loop.</summary>
    internal void Start()
    {
        _started = true;
        _loop.Register(this, _fd);
    }

    /// <summary>
    /// Connects without blocking: the loop reports the socket writable when the handshake is done. Returns the
    /// connection, or closes it and throws.
    /// </summary>
    internal async ValueTask<ConnectionContext> ConnectAsync(EndPoint endPoint, SocketAddress address, CancellationToken cancellationToken)
    {
        try
        {
            int error = LinuxSockets.Connect(_fd, address.Buffer.Span[..address.Size]);

            // Registered once the connect is under way: a socket not yet connecting reports itself hung up.
            _loop.Register(this, _fd);
            if (error == LinuxSockets.EINPROGRESS)
            {
                using (cancellationToken.UnsafeRegister(static state => ((EventLoopConnection)state!).SignalWritable(), this))
                {
                    await WaitWritableAsync();
                }

                cancellationToken.ThrowIfCancellationRequested();
                error = LinuxSockets.PendingError(_fd);
            }

            if (error != 0)
            {
                throw new SocketException((int)LinuxSockets.ToSocketError(error));
            }

            RemoteEndPoint = endPoint;
        }
        catch
        {
            // Nothing else has the connection yet.
            RecycleOnDispose();
            await DisposeAsync();
            throw;
        }

        // Reading starts now; whatever arrived while connecting (a close, say) is looked for once on the loop.
        _started = true;
        _loop.Schedule(s_startReceive, this);
        return this;
    }

    /// <summary>Called by the loop with the socket's ready mask.</summary>
    internal void OnEvents(uint events)
    {
        if ((events & (LinuxSockets.EPOLLOUT | LinuxSockets.EPOLLERR | LinuxSockets.EPOLLHUP)) != 0)
        {
            _output.OnWritable();
            SignalWritable();
        }

        // While connecting, a read would consume the error the connect must report.
        if (_started && (events & (LinuxSockets.EPOLLIN | LinuxSockets.EPOLLRDHUP | LinuxSockets.EPOLLERR | LinuxSockets.EPOLLHUP)) != 0)
        {
            _readable = true;
            _peerClosing |= (events & (LinuxSockets.EPOLLRDHUP | LinuxSockets.EPOLLERR | LinuxSockets.EPOLLHUP)) != 0;
            Receive();
        }
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        Interlocked.CompareExchange(ref _abortReason, abortReason, null);
        Abort();
    }

    /// <summary>
    /// A flush waiting for room wakes up to a failed send; the receive side completes on the loop (the input pipe's
    /// writer is the loop's), with the reason made only if the input may still be read: a connection aborted as it
    /// is disposed (an upstream connection closing) makes none.
    /// </summary>
    public override void Abort()
    {
        _aborted = true;

        // Before a dispose the socket is open (only the dispose closes it), so its number is still this socket's.
        if (Volatile.Read(ref _disposing) == 0)
        {
            LinuxSockets.Shutdown(_fd);
        }

        _loop.Schedule(s_abortReceive, this);
    }

    /// <summary>
    /// Ends the connection once sending is done; the socket is closed on the loop, which owns its events. Completes
    /// when it is closed; no state machine unless the socket has to take what is left to send first.
    /// </summary>
    public override ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposing, 1) == 1)
        {
            // A later call: nothing more to start. (A recycled connection is never disposed twice: its owner vouched.)
            return Volatile.Read(ref _closed) == 1 ? ValueTask.CompletedTask : _disposal;
        }

        _disposal = StartClose(unobserved: false) ? _closedOnLoop.Wait() : _closeAfterDrain;
        return _disposal;
    }

    public void CloseAndRecycle()
    {
        RecycleOnDispose();
        if (Interlocked.Exchange(ref _disposing, 1) == 0)
        {
            StartClose(unobserved: true);
        }
    }

    /// <summary>
    /// Completes the input and sends what is left; true when the close is now scheduled on the loop, false when it
    /// comes after the socket takes what is left (<see cref="_closeAfterDrain"/>, whose own wait for the close takes
    /// its result). When nobody will wait (<paramref name="unobserved"/>), the close signal takes its result itself,
    /// which recycles the object as it closes: told so before the close is scheduled, as the loop may run it at once.
    /// </summary>
    private bool StartClose(bool unobserved)
    {
        _input.Reader.Complete();
        ValueTask drain = _output.DrainAsync();
        if (!drain.IsCompletedSuccessfully)
        {
            _closeAfterDrain = CloseAfterDrainAsync(drain);
            return false;
        }

        if (unobserved)
        {
            _closedOnLoop.ObserveOnCompletion();
        }

        Close();
        return true;
    }

    /// <summary>
    /// The owner vouches that, once it has the result of <see cref="DisposeAsync"/>, nothing holds this connection
    /// or its pipes: the object then serves a later socket. A connection disposed without this is left to the GC.
    /// </summary>
    public void RecycleOnDispose()
    {
        // Only a connection as it was opened: anything its user attached could still be referenced elsewhere.
        if (Transport == this && _items is null && _setFeatureCount == 0)
        {
            Volatile.Write(ref _recycle, 1);
        }
    }

    private async ValueTask CloseAfterDrainAsync(ValueTask drain)
    {
        try
        {
            await drain;
        }
        finally
        {
            Close();
        }

        await _closedOnLoop.Wait();
    }

    /// <summary>Nothing more will be sent: like Kestrel's transport, ends the connection both ways (on the loop).</summary>
    private void Close() => _loop.Schedule(s_close, this);

    private unsafe void Receive()
    {
        PipeWriter writer = _input.Writer;
        for (int reads = 0; _readable && !_receivePaused && !_receiveDone; reads++)
        {
            if (reads == ReadsPerTurn)
            {
                _loop.Schedule(s_continueReceive, this);
                return;
            }

            Memory<byte> memory = writer.GetMemory();
            nint received;
            int error;
            fixed (byte* buffer = memory.Span)
            {
                received = LinuxSockets.Receive(_fd, buffer, memory.Length, out error);
            }

            if (received > 0)
            {
                // A short read emptied the socket and the next edge says when there is more, unless the peer's
                // close already came with this edge: then read on until the end of the stream.
                _readable = received == memory.Length || _peerClosing;
                writer.Advance((int)received);
                ValueTask<FlushResult> flush = writer.FlushAsync();
                if (!flush.IsCompleted)
                {
                    _receivePaused = true;
                    _pendingFlush = flush;

                    // Made at the first pause: most connections never fill their pipe.
                    flush.GetAwaiter().UnsafeOnCompleted(_resumeReceive ??= ResumeReceive);
                }
                else if (flush.Result.IsCompleted)
                {
                    CompleteReceive(null);
                }
            }
            else if (received == 0)
            {
                CompleteReceive(null);
            }
            else if (error == LinuxSockets.EAGAIN)
            {
                _readable = false;
            }
            else if (error == LinuxSockets.ECONNRESET)
            {
                // An early end of the stream: every reader treats it as the peer's close that came too soon (a
                // truncated body, a response that never came). Completing with an exception would cost a throw with
                // its stack trace at the reader, for what clients do routinely (wrk stops that way, browsers too).
                CompleteReceive(null);
            }
            else if (error != LinuxSockets.EINTR)
            {
                CompleteReceive(new IOException($"recv failed: {LinuxSockets.ToSocketError(error)}"));
            }
        }
    }

    /// <summary>The reader caught up with a receive that had filled the pipe (runs on the loop).</summary>
    private void ResumeReceive()
    {
        FlushResult result = _pendingFlush.GetAwaiter().GetResult();
        _pendingFlush = default;
        _receivePaused = false;
        if (result.IsCompleted)
        {
            CompleteReceive(null);
        }
        else
        {
            Receive();
        }
    }

    private void CompleteReceive(Exception? error)
    {
        if (_receiveDone)
        {
            return;
        }

        _receiveDone = true;
        Exception? reason = _abortReason ?? error;
        if (reason is null && _aborted && Volatile.Read(ref _disposing) == 0)
        {
            reason = new ConnectionAbortedException("The connection was aborted.");
        }

        _input.Writer.Complete(reason);
    }

    /// <summary>Completes when the loop next reports the socket writable (or at once, if it did since the last wait).</summary>
    internal ValueTask WaitWritableAsync() => _writable.WaitAsync(this);

    /// <summary>The socket has room (or failed, or a waiter is to be woken anyway): a waiting send tries again.</summary>
    internal void SignalWritable() => _writable.Signal();

    private unsafe EndPoint? AddressOf(bool peer)
    {
        int fd = _fd;
        byte* address = stackalloc byte[LinuxSockets.MaxAddressLength];
        return fd >= 0 && LinuxSockets.GetAddress(fd, peer, address)
            ? LinuxSockets.ToEndPoint(new ReadOnlySpan<byte>(address, LinuxSockets.MaxAddressLength))
            : null;
    }

    private void CloseOnLoop()
    {
        if (Token != 0)
        {
            _loop.Unregister(this, _fd);
        }

        CompleteReceive(null);
        LinuxSockets.Shutdown(_fd);
        LinuxSockets.Close(_fd);
        _fd = -1;
        Interlocked.Exchange(ref _closed, 1);
        Volatile.Read(ref _closedSource)?.Cancel();
        _closedOnLoop.Complete();
    }

    /// <summary>The owner has seen the close (a dispose's result taken): back to the loop, if the owner vouched.</summary>
    private void OnCloseObserved()
    {
        if (Interlocked.Exchange(ref _recycle, 0) == 0)
        {
            return;
        }

        // Both ends of the input pipe are complete (the reader at dispose, the writer at close), so it can be reset.
        _input.Reset();
        Token = 0;
        _localEndPoint = null;
        _remoteEndPoint = null;
        _connectionId = null;
        _closedSource?.Dispose();
        _closedSource = null;
        _closedToken = null;
        _closed = 0;
        _writable.Reset();
        _disposing = 0;
        _disposal = default;
        _closeAfterDrain = default;
        _abortReason = null;
        _aborted = false;
        _started = false;
        _readable = false;
        _peerClosing = false;
        _receivePaused = false;
        _receiveDone = false;
        _closedOnLoop.Reset();
        _loop.Recycle(this);
    }

    /// <summary>
    /// Completes the dispose's wait once the loop has closed the socket. Its result, taken once by the dispose's
    /// awaiter, is the moment the owner is done with the connection. Continuations run on the thread pool, not on the
    /// loop.
    /// </summary>
    private sealed class CloseSignal(EventLoopConnection connection) : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        private bool _observeOnCompletion;

        public ValueTask Wait() => new(this, _core.Version);

        /// <summary>Nobody will wait: <see cref="Complete"/> takes the result itself.</summary>
        public void ObserveOnCompletion() => _observeOnCompletion = true;

        public void Complete()
        {
            // Read before the result is set: once taken, the connection may already serve another socket.
            bool observe = _observeOnCompletion;
            _core.SetResult(true);
            if (observe)
            {
                GetResult(_core.Version);
            }
        }

        public void Reset()
        {
            _observeOnCompletion = false;
            _core.Reset();
        }

        public void GetResult(short token)
        {
            _core.GetResult(token);
            connection.OnCloseObserved();
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    void IValueTaskSource.GetResult(short token) => _writable.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _writable.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _writable.OnCompleted(continuation, state, token, flags);

    /// <summary>A socket address kept inline, so that an accepted connection's peer costs no object until asked for.</summary>
    [InlineArray(LinuxSockets.MaxAddressLength)]
    private struct SocketAddressBytes
    {
        private byte _first;
    }
}
