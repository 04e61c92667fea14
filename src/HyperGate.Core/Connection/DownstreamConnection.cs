using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Threading.Tasks.Sources;
using HyperGate.Diagnostics;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Http2;
using HyperGate.Pipeline;
using HyperGate.Routing;
using HyperGate.Tls;
using HyperGate.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace HyperGate.Connection;

/// <summary>
/// The request loop of downstream connections: parse a head, hand it to the exchange pipeline, repeat; a connection
/// that speaks HTTP/2 (ALPN h2, or the client preface where h2c is on) is served by <see cref="Http2Connection"/>.
/// Pipelined requests already buffered are answered in order and their responses flushed together. The wait for
/// the next request is awaited in <see cref="ServeConnectionsAsync"/>, the wait for the upstream's answer in the
/// pipeline's own loop; both state machines live as long as this object, which serves one connection after another:
/// in steady state a proxied request allocates nothing, and a new connection nothing of this.
/// </summary>
internal sealed class DownstreamConnection : IDisposable, IValueTaskSource
{
    private readonly Exchange _exchange;
    private readonly GatewayRuntime _runtime;
    private readonly ExchangePipeline _pipeline;
    private readonly ReadDeadline _readDeadline;
    private readonly GatewayConnectionHandler _handler;
    private ManualResetValueTaskSourceCore<bool> _nextConnection;
    private (ConnectionContext? Connection, IConnectionOwner? Owner) _next;
    private bool _serving;
    private volatile bool _waitingForRequest;
    private Http2Connection? _http2;

    public DownstreamConnection(GatewayRuntime runtime, GatewayConnectionHandler handler)
    {
        _pipeline = new ExchangePipeline(runtime);
        _exchange = _pipeline.Exchange;
        _runtime = runtime;
        _handler = handler;

        // One deadline, re-armed for each wait: arming it allocates nothing.
        _readDeadline = new ReadDeadline(runtime.TimeProvider);
    }

    /// <summary>
    /// Serves <paramref name="connection"/> next: the object serves one connection at a time, and many in turn. Runs
    /// on the caller's thread until the connection's first wait.
    /// </summary>
    public void Serve(ConnectionContext connection, IConnectionOwner owner)
    {
        _next = (connection, owner);
        if (!_serving)
        {
            // Set first: the loop may offer this object for another connection before the call below returns.
            _serving = true;
            _ = ServeConnectionsAsync();
        }
        else
        {
            _nextConnection.SetResult(true);
        }
    }

    private void Attach(ConnectionContext connection)
    {
        PipeReader input = connection.Transport.Input;
        var tls = connection as TlsConnection;
        _exchange.Attach(input, connection.Transport.Output, (connection.RemoteEndPoint as IPEndPoint)?.Address, isHttps: tls is not null);
        _exchange.Tls = tls;
        _readDeadline.Input = input;
        _pipeline.Attach(input);
    }

    /// <summary>
    /// After a clean end: lets go of the connection and offers this object to the handler for the next one (false when
    /// the handler keeps enough). Ready for <see cref="Serve"/> before it is offered.
    /// </summary>
    private bool KeepForNextConnection()
    {
        Detach();
        _nextConnection.Reset();
        return _handler.Keep(this);
    }

    /// <summary>Lets go of the connection that ended cleanly, before this object serves another.</summary>
    private void Detach()
    {
        // The timers let go of the reader first: it may serve another connection once this one is closed.
        _readDeadline.Disarm();
        _readDeadline.Input = null;
        _pipeline.Detach();
        _exchange.Detach();
    }

    /// <summary>Graceful shutdown: an idle connection closes now, a busy one after its current response.</summary>
    public void RequestClose()
    {
        _http2?.RequestClose();
        _exchange.CloseRequested = true;
        if (_waitingForRequest)
        {
            _exchange.Input.CancelPendingRead();
        }
    }

    /// <summary>
    /// Serves the connections it is given (<see cref="Serve"/>), one after another, for its whole life: one async
    /// method from its first connection to its last, so that a connection costs no state machine of its own (the
    /// platform's pooling builder keeps one per core, far fewer than the connections open at once). For each: serve
    /// requests until the connection ends (when its owner asks to close, an idle connection closes at once and a busy
    /// one after its response), close it, and wait for the next one, unless something of it may still run (a
    /// request body being copied) or the handler keeps enough idle states: then the object is disposed and the loop
    /// ends.
    /// </summary>
    private async Task ServeConnectionsAsync()
    {
        while (true)
        {
            ConnectionContext connection = _next.Connection!;
            IConnectionOwner owner = _next.Owner!;
            _next = default;
            bool clean = false;
            try
            {
                Attach(connection);
                PipeReader input = _exchange.Input;
                PipeWriter output = _exchange.Output;
                RequestHead request = _exchange.Request;
                bool ended = false;
                bool flushed = false;
                _runtime.Telemetry.Metrics.ConnectionOpened();
                CancellationTokenRegistration closing = owner.CloseRequested.Register(static state => ((DownstreamConnection)state!).RequestClose(), this);
                CancellationTokenRegistration aborting = owner.AbortRequested.UnsafeRegister(static state => ((ConnectionContext)state!).Abort(), connection);
                try
                {
                    // ALPN chose h2 (RFC 9113 §3.2): the connection speaks HTTP/2 from its first byte.
                    bool http2 = _exchange.Tls?.ApplicationProtocol == SslApplicationProtocol.Http2;
                    bool firstHead = true;
                    while (!http2 && !_exchange.CloseRequested)
                    {
                        GatewaySnapshot snapshot = _runtime.Snapshot;
                        _exchange.BeginRequest(snapshot);

                        // 1. Read until a complete head is parsed. Responses to earlier pipelined requests are flushed
                        //    only when no more input is buffered, so a pipelined batch costs one write.
                        //    An idle connection may wait keepalive_timeout for a head to start; once its first byte is
                        //    here, the whole head must arrive by one deadline, however it trickles (not per read).
                        RejectionReason rejection;
                        long headDeadline = 0;
                        while (true)
                        {
                            if (!input.TryRead(out ReadResult result))
                            {
                                await output.FlushAsync();
                                if (headDeadline == 0)
                                {
                                    _readDeadline.Arm(snapshot.Limits.KeepAliveTimeout);
                                }
                                else
                                {
                                    _readDeadline.ArmUntil(headDeadline);
                                }

                                _waitingForRequest = true;
                                if (_exchange.CloseRequested)
                                {
                                    input.CancelPendingRead();
                                }

                                try
                                {
                                    result = await input.ReadAsync();
                                }
                                catch (Exception e) when (e is IOException or ConnectionAbortedException)
                                {
                                    // A reset while waiting for a head (load generators and browsers stop that way) ends the
                                    // connection as cleanly as a close: nothing of an exchange runs, so its state can serve the
                                    // next one. (Whether part of a head came first does not matter, nor can it be told: the
                                    // reset may overtake the bytes before them.)
                                    _runtime.Telemetry.Metrics.ClientClosed();
                                    rejection = RejectionReason.ConnectionEnded;
                                    break;
                                }
                                finally
                                {
                                    _waitingForRequest = false;
                                    _readDeadline.Disarm();
                                }
                            }

                            ReadOnlySequence<byte> buffer = result.Buffer;
                            if (result.IsCanceled && (_exchange.CloseRequested || _readDeadline.Expired))
                            {
                                input.AdvanceTo(buffer.Start);
                                rejection = _exchange.CloseRequested || buffer.IsEmpty ? RejectionReason.ConnectionEnded : RejectionReason.RequestHeadTimeout;
                                break;
                            }

                            if (firstHead && !_exchange.IsHttps && snapshot.Config.Http2.H2c)
                            {
                                // RFC 9113 §3.3: HTTP/2 by prior knowledge starts with the client preface.
                                bool? preface = Http2Connection.StartsWithPreface(buffer, Http2Connection.PrefaceLineLength);
                                if (preface is null && !result.IsCompleted)
                                {
                                    input.AdvanceTo(buffer.Start, buffer.End);
                                    continue;
                                }

                                if (preface == true)
                                {
                                    input.AdvanceTo(buffer.Start);
                                    http2 = true;
                                    rejection = RejectionReason.ConnectionEnded;
                                    break;
                                }
                            }

                            ParseStatus status = RequestHeadParser.TryParse(buffer, request, snapshot.Limits.Head, out SequencePosition consumed, out SequencePosition examined, out rejection);
                            if (status == ParseStatus.Complete)
                            {
                                input.AdvanceTo(consumed);
                                break;
                            }

                            if (status == ParseStatus.Rejected)
                            {
                                input.AdvanceTo(buffer.Start);
                                break;
                            }

                            input.AdvanceTo(consumed, examined);
                            if (headDeadline == 0 && !buffer.IsEmpty)
                            {
                                headDeadline = _readDeadline.DeadlineAfter(snapshot.Limits.RequestHeadTimeout);
                            }

                            if (result.IsCompleted)
                            {
                                // A client closing between requests is normal, and so is one closing before its request
                                // line is whole (nothing was asked); closing halfway through the fields is malformed.
                                rejection = RequestHeadParser.HasRequestLine(buffer) ? RejectionReason.InvalidRequestLine : RejectionReason.ConnectionEnded;
                                if (rejection == RejectionReason.ConnectionEnded)
                                {
                                    _runtime.Telemetry.Metrics.ClientClosed();
                                }

                                break;
                            }
                        }

                        if (rejection == RejectionReason.ConnectionEnded)
                        {
                            break;
                        }

                        firstHead = false;
                        if (!await _pipeline.RunAsync(rejection))
                        {
                            break;
                        }
                    }

                    if (http2)
                    {
                        _http2 = new Http2Connection(_runtime, _handler.Http2Streams, _runtime.Snapshot.Config.Http2, input, output, _exchange.PeerAddress, _exchange.Tls);
                        if (_exchange.CloseRequested)
                        {
                            _http2.RequestClose();
                        }

                        await _http2.ServeAsync();
                        _http2 = null;
                    }

                    ended = true;
                }
                catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
                {
                    // The client went away mid-exchange; nothing is left to answer. Work of that exchange may still be
                    // running (a request body being copied), so this object is not reused.
                }
                finally
                {
                    try
                    {
                        await output.FlushAsync();
                        flushed = true;
                    }
                    finally
                    {
                        // Disposed before the object is reused: a close request still running would reach the next connection.
                        closing.Dispose();
                        aborting.Dispose();
                        _runtime.Telemetry.Metrics.ConnectionClosed();
                        clean = ended && flushed && _pipeline.IsQuiet;
                    }
                }
            }
            catch (Exception e)
            {
                clean = false;
                _handler.Log.LogError(e, "unhandled error serving a connection from {Peer}", connection.RemoteEndPoint);
            }

            // The timers let go of the connection's reader before the connection can be recycled; a state that
            // is kept goes back to the handler before the close, so the client never sees a close while it is out.
            bool kept = clean && KeepForNextConnection();
            if (!kept)
            {
                Dispose();
            }

            owner.ConnectionEnded();
            if (clean && connection is IRecyclableConnection recyclable)
            {
                recyclable.RecycleOnDispose();
            }

            try
            {
                await connection.DisposeAsync();
            }
            catch (Exception e)
            {
                _handler.Log.LogError(e, "closing a connection from {Peer} failed", connection.RemoteEndPoint);
            }

            owner.ConnectionClosed();
            if (!kept)
            {
                return;
            }

            await new ValueTask(this, _nextConnection.Version);
        }
    }

    void IValueTaskSource.GetResult(short token) => _nextConnection.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _nextConnection.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _nextConnection.OnCompleted(continuation, state, token, flags);

    public void Dispose()
    {
        _readDeadline.Dispose();
        _pipeline.Dispose();
    }
}
