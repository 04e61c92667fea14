using System.IO.Pipelines;
using System.Threading.Tasks.Sources;
using HyperGate.Diagnostics;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Pipeline;
using HyperGate.Routing;
using HyperGate.Tls;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Connection;

/// <summary>
/// One exchange, whatever protocol carried its request: route, the route's phases, forward, respond, report. An
/// HTTP/1.1 connection's request loop and an HTTP/2 stream both drive it, once their request head is parsed into
/// <see cref="Exchange.Request"/>; they differ only in the pipes the exchange is attached to. Each instance serves
/// one exchange at a time and is reused for the next.
/// </summary>
internal sealed class ExchangePipeline : IDisposable, IValueTaskSource<bool>, IValueTaskSource
{
    private readonly Exchange _exchange;
    private readonly GatewayRuntime _runtime;
    private readonly HttpForwarder _forwarder;
    private readonly RequestRecorder _recorder;
    private ManualResetValueTaskSourceCore<bool> _done;
    private ManualResetValueTaskSourceCore<bool> _start;
    private RejectionReason _rejection;
    private bool _looping;

    public ExchangePipeline(GatewayRuntime runtime)
    {
        _exchange = new Exchange { Date = runtime.Date };
        _runtime = runtime;
        _recorder = new RequestRecorder(runtime);
        _forwarder = new HttpForwarder(_exchange, runtime, _recorder);
    }

    public Exchange Exchange => _exchange;

    /// <summary>True when nothing of the last exchange still runs (its request body is no longer being copied).</summary>
    public bool IsQuiet => _forwarder.IsQuiet;

    /// <summary>Request bodies are read from <paramref name="input"/> (set once per connection or stream, not per body).</summary>
    public void Attach(PipeReader input) => _forwarder.Attach(input);

    public void Detach() => _forwarder.Detach();

    /// <summary>
    /// Serves the request whose head was just parsed (or refused with <paramref name="rejection"/>), and reports
    /// it once however it ends. Returns whether the connection can carry another request. Allocation-free: the
    /// exchange runs in this object's own loop (<see cref="LoopAsync"/>), whose state machine lives as long as the
    /// object, and the caller awaits its end through this object (an async method per exchange would allocate its
    /// state whenever the exchange waits, which a proxied one always does).
    /// </summary>
    public ValueTask<bool> RunAsync(RejectionReason rejection)
    {
        _rejection = rejection;
        _done.Reset();
        if (!_looping)
        {
            _looping = true;
            _ = LoopAsync();
        }
        else
        {
            _start.SetResult(true);
        }

        return new ValueTask<bool>(this, _done.Version);
    }

    /// <summary>One exchange after another, each started by <see cref="RunAsync"/>, for the object's whole life.</summary>
    private async Task LoopAsync()
    {
        while (true)
        {
            RejectionReason rejection = _rejection;
            bool keep;
            try
            {
                RequestHead request = _exchange.Request;
                PipeWriter output = _exchange.Output;
                // The wait for this head may have spanned a reload: the request runs on the config current now.
                GatewaySnapshot snapshot = _runtime.Snapshot;
                _exchange.Snapshot = snapshot;
                _exchange.IsGrpc = _exchange.IsHttp2 && rejection == RejectionReason.None && GrpcCalls.IsGrpc(request);
                _runtime.CountRequest();
                _recorder.Begin(_exchange);
                try
                {
                    if (rejection != RejectionReason.None)
                    {
                        _exchange.Reject(rejection, _runtime.Date.Line, bodyUnread: true);
                        keep = false;
                        goto Done;
                    }

                    // 2. Canonical path, limits, route; the gateway may answer here itself.
                    rejection = Route(snapshot, out byte[]? routeField);
                    if (rejection != RejectionReason.None)
                    {
                        keep = _exchange.Reject(rejection, _runtime.Date.Line, bodyUnread: request.HasBody, routeField);
                        goto Done;
                    }

                    // 3. The route's request phase; a step may refuse the request or answer it itself.
                    Route route = _exchange.Route!;
                    StepResult decided = await route.Phases.RunRequestAsync(_exchange);
                    if (decided.Verdict == StepVerdict.Answered)
                    {
                        keep = decided.KeepAlive;
                        goto Done;
                    }

                    if (decided.Verdict == StepVerdict.Refuse)
                    {
                        keep = _exchange.Reject(decided.Rejection, _runtime.Date.Line, bodyUnread: request.HasBody, decided.Field);
                        goto Done;
                    }

                    if (route.DirectResponse is { } direct)
                    {
                        keep = AnswerDirectly(direct);
                        goto Done;
                    }

                    // 3b. The request-body phase: the body read whole (within its steps' bound), then decided on.
                    if (route.Phases.RequestBody.Length > 0 && request.HasBody)
                    {
                        StepResult bodyDecision = await ReadRequestBodyAsync(route.Phases);
                        if (bodyDecision.Verdict == StepVerdict.Answered)
                        {
                            keep = bodyDecision.KeepAlive;
                            goto Done;
                        }

                        if (bodyDecision.Verdict == StepVerdict.Refuse)
                        {
                            keep = _exchange.Reject(bodyDecision.Rejection, _runtime.Date.Line, bodyUnread: _exchange.BufferedBody is null, bodyDecision.Field);
                            goto Done;
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

                            keep = false;
                            goto Done;
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
                        keep = AnswerDirectly(fallback);
                        goto Done;
                    }

                    if (rejection != RejectionReason.None)
                    {
                        keep = _forwarder.AnswerFailure(rejection, bodyUnread: _exchange.BodyStreams);
                        goto Done;
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

                    keep = forwarded.Value;
                }
                finally
                {
                    // Every request that got past its head is reported once, however it ended.
                    _forwarder.EndExchange();
                    _exchange.EndPhases();
                    _recorder.Complete(_exchange);
                }
            }
            catch (Exception e)
            {
                _start.Reset();
                _done.SetException(e);
                await new ValueTask(this, _start.Version);
                continue;
            }

        Done:
            // Ready for the next exchange before this one is reported ended: its caller may start it at once.
            _start.Reset();
            _done.SetResult(keep);
            await new ValueTask(this, _start.Version);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _done.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _done.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _done.OnCompleted(continuation, state, token, flags);

    void IValueTaskSource.GetResult(short token) => _start.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _start.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _start.OnCompleted(continuation, state, token, flags);

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

    /// <summary>Answers with a configured response (a route's <c>respond</c> or <c>fallback</c>); returns whether the connection stays open.</summary>
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

    public void Dispose()
    {
        _forwarder.Dispose();
        _recorder.Dispose();
        _exchange.Dispose();
    }
}
