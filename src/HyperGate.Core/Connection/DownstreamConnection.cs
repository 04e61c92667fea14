using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Threading.Tasks.Sources;
using HyperGate.Diagnostics;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Pipeline;
using HyperGate.Routing;
using HyperGate.Tls;
using HyperGate.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace HyperGate.Connection;

/// <summary>
/// The request loop of downstream connections: parse a head, route it, forward it or answer it, repeat.
/// Pipelined requests already buffered are answered in order and their responses flushed together.
/// Both waits of an exchange (for the next request, and for the upstream's answer) are awaited directly in
/// <see cref="ServeConnectionsAsync"/>, whose state machine lives as long as this object and serves one connection
/// after another: in steady state a proxied request allocates nothing, and a new connection nothing of this.
/// </summary>
internal sealed class DownstreamConnection : IDisposable, IValueTaskSource
{
    private readonly Exchange _exchange;
    private readonly GatewayRuntime _runtime;
    private readonly HttpForwarder _forwarder;
    private readonly RequestRecorder _recorder;
    private readonly ReadDeadline _readDeadline;
    private readonly GatewayConnectionHandler _handler;
    private ManualResetValueTaskSourceCore<bool> _nextConnection;
    private (ConnectionContext? Connection, IConnectionOwner? Owner) _next;
    private bool _serving;
    private volatile bool _waitingForRequest;

    public DownstreamConnection(GatewayRuntime runtime, GatewayConnectionHandler handler)
    {
        _exchange = new Exchange { Date = runtime.Date };
        _runtime = runtime;
        _handler = handler;
        _recorder = new RequestRecorder(runtime);
        _forwarder = new HttpForwarder(_exchange, runtime, _recorder);

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
        _forwarder.Attach(input);
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
        _forwarder.Detach();
        _exchange.Detach();
    }

    /// <summary>Graceful shutdown: an idle connection closes now, a busy one after its current response.</summary>
    public void RequestClose()
    {
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
                    while (!_exchange.CloseRequested)
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

                        // The wait for this head may have spanned a reload: the request runs on the config current now.
                        snapshot = _runtime.Snapshot;
                        _exchange.Snapshot = snapshot;
                        _runtime.CountRequest();
                        _recorder.Begin(_exchange);
                        try
                        {
                            if (rejection != RejectionReason.None)
                            {
                                _exchange.Reject(rejection, _runtime.Date.Line, bodyUnread: true);
                                break;
                            }

                            // 2. Canonical path, limits, route; the gateway may answer here itself.
                            rejection = Route(snapshot, out byte[]? routeField);
                            if (rejection != RejectionReason.None)
                            {
                                if (!_exchange.Reject(rejection, _runtime.Date.Line, bodyUnread: request.HasBody, routeField))
                                {
                                    break;
                                }

                                continue;
                            }

                            // 3. The route's request phase; a step may refuse the request or answer it itself.
                            Route route = _exchange.Route!;
                            StepResult decided = await route.Phases.RunRequestAsync(_exchange);
                            if (decided.Verdict == StepVerdict.Answered)
                            {
                                if (!decided.KeepAlive)
                                {
                                    break;
                                }

                                continue;
                            }

                            if (decided.Verdict == StepVerdict.Refuse)
                            {
                                if (!_exchange.Reject(decided.Rejection, _runtime.Date.Line, bodyUnread: request.HasBody, decided.Field))
                                {
                                    break;
                                }

                                continue;
                            }

                            if (route.DirectResponse is { } direct)
                            {
                                if (!AnswerDirectly(direct))
                                {
                                    break;
                                }

                                continue;
                            }

                            // 3b. The request-body phase: the body read whole (within its steps' bound), then decided on.
                            if (route.Phases.RequestBody.Length > 0 && request.HasBody)
                            {
                                StepResult bodyDecision = await ReadRequestBodyAsync(route.Phases);
                                if (bodyDecision.Verdict == StepVerdict.Answered)
                                {
                                    if (!bodyDecision.KeepAlive)
                                    {
                                        break;
                                    }

                                    continue;
                                }

                                if (bodyDecision.Verdict == StepVerdict.Refuse)
                                {
                                    if (!_exchange.Reject(bodyDecision.Rejection, _runtime.Date.Line, bodyUnread: _exchange.BufferedBody is null, bodyDecision.Field))
                                    {
                                        break;
                                    }

                                    continue;
                                }
                            }
                            else if (route.BodyBuffer > 0 && request.ContentLength > 0 && request.ContentLength <= route.BodyBuffer && !request.ExpectContinue)
                            {
                                BodyCopyResult buffered = await _forwarder.BufferBodyAsync();
                                if (buffered != BodyCopyResult.Completed)
                                {
                                    // The client left, or sent too slowly: the connection cannot carry another request.
                                    if (buffered == BodyCopyResult.SourceTooSlow)
                                    {
                                        _exchange.Reject(RejectionReason.BodyTooSlow, _runtime.Date.Line, bodyUnread: true);
                                    }

                                    break;
                                }
                            }

                            if (route.Mirror is { } mirror)
                            {
                                _runtime.Mirror.Enqueue(_exchange, mirror);
                            }

                            // 4. Forward: lease a connection, send the head, then wait for the answer right here.
                            if (!_forwarder.TryStart(out rejection))
                            {
                                rejection = await _forwarder.ConnectAsync();
                            }

                            if (rejection == RejectionReason.CircuitOpen && route.FallbackResponse is { } fallback)
                            {
                                if (!AnswerDirectly(fallback))
                                {
                                    break;
                                }

                                continue;
                            }

                            if (rejection != RejectionReason.None)
                            {
                                if (!_forwarder.AnswerFailure(rejection, bodyUnread: _exchange.BodyStreams))
                                {
                                    break;
                                }

                                continue;
                            }

                            bool? forwarded = null;
                            while (forwarded is null)
                            {
                                ResponseHeadStep step = ResponseHeadStep.NeedMore;
                                if (_forwarder.SendRequestHead())
                                {
                                    FlushResult flush = await _forwarder.Upstream.Output.FlushAsync();
                                    if (flush.IsCompleted)
                                    {
                                        step = ResponseHeadStep.ClosedBeforeResponse;
                                    }
                                }

                                // 5. The response head, relaying interim responses.
                                while (step is ResponseHeadStep.NeedMore or ResponseHeadStep.Interim)
                                {
                                    if (step == ResponseHeadStep.Interim && (await output.FlushAsync()).IsCompleted)
                                    {
                                        step = ResponseHeadStep.ClosedBeforeResponse;
                                        break;
                                    }

                                    ReadResult response;
                                    try
                                    {
                                        response = await _forwarder.Upstream.Input.ReadAsync();
                                    }
                                    catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException)
                                    {
                                        step = ResponseHeadStep.ClosedBeforeResponse;
                                        break;
                                    }

                                    step = _forwarder.OnResponseRead(response);
                                }

                                // 6. The response, or the failure (which may ask to retry on a fresh connection).
                                forwarded = step switch
                                {
                                    ResponseHeadStep.Complete => await _forwarder.SendResponseAsync(),
                                    ResponseHeadStep.SwitchingProtocols => await _forwarder.TunnelAsync(),
                                    _ => await _forwarder.FailAsync(step),
                                };

                                if (forwarded is null)
                                {
                                    rejection = await _forwarder.ConnectAsync();
                                    if (rejection != RejectionReason.None)
                                    {
                                        forwarded = _forwarder.AnswerFailure(rejection, bodyUnread: false);
                                    }
                                }
                            }

                            if (!forwarded.Value)
                            {
                                break;
                            }
                        }
                        finally
                        {
                            // Every request that got past its head is reported once, however it ended.
                            _forwarder.EndExchange();
                            _exchange.EndPhases();
                            _recorder.Complete(_exchange);
                        }
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
                        clean = ended && flushed && _forwarder.IsQuiet;
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

    /// <summary>Answers with a configured response (a route's <c>respond</c> or <c>fallback</c>); returns whether the connection stays open.</summary>
    /// <summary>
    /// Reads the request body whole and runs the request-body phase on it. A body longer than the phase's bound is
    /// refused with 413 (before it is read when its length says so); a client that stalls or sends bad chunks is
    /// refused; one that left ends the connection.
    /// </summary>
    private async ValueTask<StepResult> ReadRequestBodyAsync(RoutePhases phases)
    {
        long limit = phases.RequestBodyLimit;
        if (_exchange.Request.ContentLength > limit)
        {
            return StepResult.Refuse(RejectionReason.BodyTooLarge);
        }

        BodyCopyResult read = await _forwarder.BufferBodyAsync(limit);
        switch (read)
        {
            case BodyCopyResult.Completed:
                byte[] body = _exchange.BufferedBody!;
                StepResult decided = phases.RunRequestBody(_exchange, ref body);
                _exchange.BufferedBody = body;
                return decided;
            case BodyCopyResult.TooLarge:
                return StepResult.Refuse(RejectionReason.BodyTooLarge);
            case BodyCopyResult.SourceTooSlow:
                return StepResult.Refuse(RejectionReason.BodyTooSlow);
            case BodyCopyResult.SourceInvalid:
                return StepResult.Refuse(RejectionReason.InvalidChunkedBody);
            default:
                return StepResult.Answered(keepAlive: false);
        }
    }

    private bool AnswerDirectly(DirectResponse direct)
    {
        bool keepAlive = _exchange.CanKeepAliveAfterAnswer();
        GatewayResponses.WriteDirectResponse(_exchange.Output, direct, !keepAlive, _runtime.Date.Line, _exchange.Request.Method != HttpMethod.Head, _exchange);
        _exchange.Status = direct.Status;
        return keepAlive;
    }

    /// <summary>
    /// Normalizes the path, checks the declared body size and finds the route; <paramref name="field"/> is a field line
    /// the refusal carries (Allow for 405, Location for a redirect to https).
    /// </summary>
    private RejectionReason Route(GatewaySnapshot snapshot, out byte[]? field)
    {
        RequestHead request = _exchange.Request;
        field = null;

        // The whole plain-HTTP side answers with the same URL on https, as received (RFC 9110 §15.4.9: 308 keeps the method).
        if (!_exchange.IsHttps && snapshot.Config.Tls.RedirectHttp)
        {
            field = HttpsRedirect.LocationField(request, snapshot.Config.Tls.HttpsPort);
            return field is null ? RejectionReason.MissingHost : RejectionReason.HttpsRedirect;
        }

        // The canonical path is what routing, policies and the upstream all see.
        RejectionReason pathError = request.NormalizePath();
        if (pathError != RejectionReason.None)
        {
            return pathError;
        }

        if (request.ContentLength > snapshot.Limits.MaxBodySize)
        {
            return RejectionReason.BodyTooLarge;
        }

        // Before routing, so that a refused address cannot tell which routes exist.
        if (snapshot.IpFilter?.Permits(_exchange.ClientIp(snapshot.TrustedProxies)) == false)
        {
            return RejectionReason.IpDenied;
        }

        // RFC 9110 §15.5.20: a Host that another certificate serves was not what this connection's handshake was for
        // (no domain fronting across certificates); the client may retry on a connection of its own.
        if (_exchange.Tls is { } tls && snapshot.Config.Tls.Selector.IsMisdirected(request.Host, tls.Certificate))
        {
            return RejectionReason.MisdirectedRequest;
        }

        RouteMatch match = snapshot.Routes.Match(request);

        if (match.RefusesEncodedSlash(request, snapshot.Config.Server.KeepEncodedSlashes))
        {
            return RejectionReason.EncodedSlash;
        }

        if (match.Rejection == RejectionReason.MethodNotAllowed && match.MethodMismatch is { } corsRoute && corsRoute.AnswersPreflight(request))
        {
            // A preflight asks about another method; the route's CORS policy answers it.
            _exchange.Route = corsRoute;
            return RejectionReason.None;
        }

        _exchange.Route = match.Route;
        field = match.MethodMismatch?.AllowField;
        if (match.Route is { RequireClientCertificate: true } && _exchange.Tls?.ClientCertificate is null)
        {
            // A JSON 403 rather than a failed handshake: the connection may serve routes that need no certificate.
            return RejectionReason.ClientCertificateRequired;
        }

        return match.Rejection;
    }

    void IValueTaskSource.GetResult(short token) => _nextConnection.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _nextConnection.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _nextConnection.OnCompleted(continuation, state, token, flags);

    public void Dispose()
    {
        _readDeadline.Dispose();
        _forwarder.Dispose();
        _recorder.Dispose();
        _exchange.Dispose();
    }
}
