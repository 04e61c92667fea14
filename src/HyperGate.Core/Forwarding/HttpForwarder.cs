using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using HyperGate.Diagnostics;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Pipeline;
using HyperGate.Resilience;
using HyperGate.Routing;
using HyperGate.Upstreams;

namespace HyperGate.Forwarding;

/// <summary>What the response-head reader wants next.</summary>
public enum ResponseHeadStep : byte
{
    /// <summary>More bytes are needed: read the upstream again.</summary>
    NeedMore,
    Complete,
    /// <summary>A 1xx response was written downstream: flush it, then read again.</summary>
    Interim,

    /// <summary>A final response the route retries on: discard it and try again.</summary>
    Retry,
    SwitchingProtocols,
    Timeout,
    ClosedBeforeResponse,
    Invalid,
}

/// <summary>
/// Forwards exchanges of one downstream connection to upstreams. The steps are:
/// 1. pick a destination; 2. lease a pooled connection; 3. write the rebuilt head and stream the request body;
/// 4. read the response head (relaying 1xx, switching protocols on 101); 5. write the response head and stream
/// the body; 6. give the connection back, reusable only if both messages were read completely.
/// The caller's request loop awaits the waits itself (the upstream's answer), so that in steady state no
/// per-request async state is allocated; the steps here complete synchronously unless a body must wait.
/// The forwarder knows nothing of policies: it runs after them, with the route they let through.
/// </summary>
public sealed class HttpForwarder : IDisposable
{
    private readonly Exchange _exchange;
    private readonly GatewayRuntime _runtime;
    private readonly BodyRateGuard _bodyRate;
    private readonly RequestRecorder _recorder;
    private Upstream _target = null!;
    private Destination? _destination;
    private UpstreamConnection? _upstream;
    private UpstreamAdmission? _admission;
    private ValueTask<BodyCopyResult> _requestBody;
    private bool _upgrade;
    private bool _retried;
    private bool _bodySent;
    private bool _trial;
    private bool _idleFirst;
    private int _attempt;
    private long _deadline;

    public HttpForwarder(Exchange exchange, GatewayRuntime runtime, RequestRecorder recorder)
    {
        _exchange = exchange;
        _runtime = runtime;
        _recorder = recorder;
        _bodyRate = new BodyRateGuard(runtime.TimeProvider);
    }

    public void Dispose() => _bodyRate.Dispose();

    /// <summary>A new client connection: request bodies are read from <paramref name="clientInput"/> (set once, not per body).</summary>
    public void Attach(PipeReader clientInput) => _bodyRate.Source = clientInput;

    /// <summary>The client connection ended cleanly: the body guard lets go of its reader.</summary>
    public void Detach() => _bodyRate.Source = null;

    /// <summary>True when nothing of the last exchange still runs (its request body is no longer being copied).</summary>
    public bool IsQuiet => _requestBody.IsCompleted;

    /// <summary>The leased upstream connection of the exchange in progress.</summary>
    public UpstreamConnection Upstream => _upstream!;

    /// <summary>
    /// Steps 1 and 2: chooses the upstream (the route's, one of its split, or its fallback while the circuit is
    /// open), picks a destination and takes an idle connection. Returns false when the rest must be awaited
    /// (<see cref="ConnectAsync"/>); true when a connection was taken or, with a rejection, none can be.
    /// </summary>
    public bool TryStart(out RejectionReason rejection)
    {
        Route route = _exchange.Route!;
        (_retried, _bodySent, _trial, _idleFirst, _attempt, _upstream, _admission) = (false, false, false, false, 0, null, null);
        _deadline = route.Timeout > TimeSpan.Zero ? _runtime.TimeProvider.GetTimestamp() + (long)(route.Timeout.TotalSeconds * _runtime.TimeProvider.TimestampFrequency) : 0;
        if (_exchange.IsGrpc && GrpcCalls.TryGetTimeout(_exchange.Request, out TimeSpan grpcTimeout))
        {
            // The client's deadline (grpc-timeout) bounds the wait for the upstream too, when it is the nearer one.
            long grpcDeadline = _runtime.TimeProvider.GetTimestamp() + (long)(grpcTimeout.TotalSeconds * _runtime.TimeProvider.TimestampFrequency);
            _deadline = _deadline == 0 ? grpcDeadline : Math.Min(_deadline, grpcDeadline);
        }

        route.Retry?.Budget.RecordRequest();
        _target = _exchange.ChosenUpstream ?? route.PickUpstream()!;
        if (_target.Breaker is { } breaker && !breaker.TryEnter(out _trial))
        {
            if (route.FallbackUpstream is not { } fallback || fallback.Breaker?.TryEnter(out _trial) == false)
            {
                rejection = RejectionReason.CircuitOpen;
                return true;
            }

            _target = fallback;
        }

        _exchange.Upstream = _target;
        rejection = RejectionReason.None;
        if (_target.Admission is { } admission)
        {
            if (!admission.TryEnter())
            {
                // Wait for a slot in ConnectAsync.
                return false;
            }

            _admission = admission;
        }

        if (!Pick())
        {
            rejection = RejectionReason.NoDestination;
            return true;
        }

        return _destination!.Pool.TryRentIdle(out _upstream);
    }

    /// <summary>Picks a destination (another than the one that failed, when there is a choice) and counts the request on it.</summary>
    private bool Pick()
    {
        Destination? failed = _destination;
        Destination? next = _target.PickDestination(_exchange);
        for (int draw = 0; draw < 3 && next is not null && next == failed && _target.Destinations.Length > 1; draw++)
        {
            next = _target.PickDestination(_exchange);
        }

        failed?.RequestEnded();
        _destination = next;
        _exchange.Destination = next;
        next?.RequestStarted();
        return next is not null;
    }

    /// <summary>Ends the exchange's hold on its destination, its upstream slot and any unreported circuit trial; called once per request, however it ended.</summary>
    public void EndExchange()
    {
        _destination?.RequestEnded();
        _destination = null;
        _admission?.Exit();
        _admission = null;
        if (_trial)
        {
            _target.Breaker!.AbandonTrial();
            _trial = false;
        }
    }

    /// <summary>
    /// Step 2 when it must wait: for a slot under the upstream's caps, then for a new connection (after a retry,
    /// an idle one first). A connection that fails is counted against its destination, and tried again on another
    /// when the route's retries allow it.
    /// </summary>
    public async ValueTask<RejectionReason> ConnectAsync()
    {
        if (_destination is null)
        {
            if (!await _target.Admission!.WaitAsync(_target.Settings.ConnectTimeout, _runtime.TimeProvider))
            {
                return RejectionReason.UpstreamOverloaded;
            }

            _admission = _target.Admission;
            if (!Pick())
            {
                return RejectionReason.NoDestination;
            }

            _idleFirst = true;
        }

        while (true)
        {
            if (_idleFirst && _destination!.Pool.TryRentIdle(out _upstream))
            {
                _idleFirst = false;
                return RejectionReason.None;
            }

            _idleFirst = false;
            try
            {
                _upstream = await _destination!.Pool.ConnectAsync(CancellationToken.None);
                return RejectionReason.None;
            }
            catch (UpstreamException e)
            {
                ReportOutcome(success: false);
                if (!CanRetry(RetryOn.ConnectFailure))
                {
                    return e.Reason;
                }

                await PrepareRetryAsync();
            }
        }
    }

    /// <summary>Passive health and the circuit breaker learn how the exchange with the destination went.</summary>
    private void ReportOutcome(bool success)
    {
        if (success)
        {
            _destination!.RecordSuccess();
            _target.Breaker?.OnSuccess(_trial);
        }
        else
        {
            _target.ReportFailure(_destination!);
            _target.Breaker?.OnFailure(_trial);
        }

        _trial = false;
    }

    /// <summary>
    /// Whether the failed try may be repeated: the route retries this failure (a <paramref name="status"/> when
    /// <paramref name="on"/> is None), tries are left, the method is safe to replay, no body was sent, the
    /// deadline has not passed, and the retry budget has room (checked last: it takes a retry from the budget).
    /// </summary>
    private bool CanRetry(RetryOn on, int status = 0)
    {
        RetryPolicy? retry = _exchange.Route!.Retry;
        return retry is not null
            && _attempt < retry.Attempts
            && (on == RetryOn.None ? retry.RetriesStatus(status) : (retry.On & on) != 0)
            && retry.Allows(_exchange.Request.Method)
            && !_bodySent
            && (_deadline == 0 || _runtime.TimeProvider.GetTimestamp() < _deadline)
            && retry.Budget.TryAcquire();
    }

    /// <summary>Waits the jittered back-off, then moves the exchange to another destination.</summary>
    private async ValueTask PrepareRetryAsync()
    {
        _attempt++;
        _exchange.Retries = _attempt;
        TimeSpan backoff = _exchange.Route!.Retry!.Backoff(_attempt, Random.Shared);
        if (backoff > TimeSpan.Zero)
        {
            await Task.Delay(backoff, _runtime.TimeProvider);
        }

        _idleFirst = true;
        Pick();
    }

    /// <summary>The wait for this try's response head: the route's or upstream's timeout, cut short by the route's deadline.</summary>
    private TimeSpan ResponseTimeout()
    {
        TimeSpan timeout = _exchange.Route!.ResponseTimeout ?? _target.Settings.ResponseTimeout;
        if (_deadline == 0)
        {
            return timeout;
        }

        TimeSpan left = _runtime.TimeProvider.GetElapsedTime(_runtime.TimeProvider.GetTimestamp(), _deadline);
        return left < timeout ? (left > TimeSpan.Zero ? left : TimeSpan.FromTicks(1)) : timeout;
    }

    /// <summary>
    /// Step 3: writes the request head and starts streaming the body concurrently with the response read
    /// (an upstream may answer early, and Expect: 100-continue needs the interim response relayed).
    /// Returns true when there is no body: the caller then flushes <see cref="Upstream"/>'s output.
    /// </summary>
    public bool SendRequestHead()
    {
        RequestHead request = _exchange.Request;
        UpstreamConnection upstream = _upstream!;
        TimeSpan responseTimeout = ResponseTimeout();
        _upgrade = IsForwardableUpgrade(request);
        _exchange.UpstreamStartTimestamp = _runtime.TimeProvider.GetTimestamp();
        UpstreamRequestWriter.Write(upstream.Output, _exchange, _destination!, _upgrade);
        if (!_exchange.BodyStreams)
        {
            if (_exchange.BufferedBody is { } body)
            {
                upstream.Output.Write(body);
            }

            upstream.ArmTimeout(responseTimeout);
            _requestBody = ValueTask.FromResult(BodyCopyResult.Completed);
            return true;
        }

        _bodySent = true;

        // The response clock starts once the whole body is sent; until then the client sets the pace.
        upstream.DisarmTimeout();
        _requestBody = SendRequestBodyAsync(upstream, responseTimeout);
        return false;
    }

    /// <summary>
    /// Reads the request body whole before it is forwarded, so that a retry can send it again, a mirror can copy it and
    /// the request-body phase can see it: a Content-Length body (the route's <c>body_buffer</c>), or a chunked one of at
    /// most <paramref name="maxSize"/> decoded bytes (TooLarge beyond). The client's minimum body rate applies as when
    /// streaming. A client waiting for 100 Continue is sent it here, and the upstream gets a body, not an expectation.
    /// </summary>
    public async ValueTask<BodyCopyResult> BufferBodyAsync(long maxSize = long.MaxValue)
    {
        DownstreamLimits limits = _exchange.Snapshot.Limits;
        RequestHead request = _exchange.Request;
        if (request.ExpectContinue)
        {
            _exchange.Output.Write("HTTP/1.1 100 Continue\r\n\r\n"u8);
            await _exchange.Output.FlushAsync();
            request.DropExpectation();
        }

        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        BodyCopyResult result;
        StartBodyRateGuard(limits);
        try
        {
            result = request.IsChunked
                ? await ChunkedBody.CopyAsync(_exchange.Input, pipe.Writer, Math.Min(maxSize, limits.MaxBodySize), dechunk: true, _bodyRate, CancellationToken.None)
                : await BodyCopier.CopyExactAsync(_exchange.Input, pipe.Writer, request.ContentLength, flushAtEnd: true, _bodyRate, CancellationToken.None);
            await pipe.Writer.FlushAsync();
        }
        catch (Exception)
        {
            // The downstream reset mid-body.
            result = BodyCopyResult.SourceTruncated;
        }
        finally
        {
            _bodyRate.Stop();
        }

        _exchange.RequestBodyBytes = _bodyRate.ReceivedBytes;
        pipe.Writer.Complete();
        if (result == BodyCopyResult.Completed && pipe.Reader.TryRead(out ReadResult buffered))
        {
            _exchange.BufferedBody = buffered.Buffer.ToArray();
        }

        pipe.Reader.Complete();
        return result;
    }

    /// <summary>Step 4: parses what the upstream sent so far.</summary>
    public ResponseHeadStep OnResponseRead(in ReadResult result)
    {
        UpstreamConnection upstream = _upstream!;
        PipeReader input = upstream.Input;
        ReadOnlySequence<byte> buffer = result.Buffer;
        if (result.IsCanceled && upstream.TimedOut)
        {
            input.AdvanceTo(buffer.Start);
            return ResponseHeadStep.Timeout;
        }

        ResponseHead response = upstream.ResponseHead;
        ParseStatus status = ResponseHeadParser.TryParse(buffer, response, HeadLimits.UpstreamResponse, out SequencePosition consumed, out SequencePosition examined, out _);
        if (status == ParseStatus.Rejected)
        {
            input.AdvanceTo(buffer.Start);
            return ResponseHeadStep.Invalid;
        }

        if (status == ParseStatus.Incomplete)
        {
            input.AdvanceTo(consumed, examined);
            if (result.IsCompleted)
            {
                return buffer.IsEmpty ? ResponseHeadStep.ClosedBeforeResponse : ResponseHeadStep.Invalid;
            }

            return ResponseHeadStep.NeedMore;
        }

        input.AdvanceTo(consumed);
        if (response.StatusCode >= 200)
        {
            upstream.DisarmTimeout();
            ObserveLatency();
            ReportOutcome(success: response.StatusCode < 500 || _target.Health.Outlier is { Count5xx: false });

            // Nothing has gone downstream yet: an answer the route retries on is dropped and the request tried again.
            return CanRetry(RetryOn.None, response.StatusCode) ? ResponseHeadStep.Retry : ResponseHeadStep.Complete;
        }

        if (response.StatusCode == 101)
        {
            // RFC 9110 §15.2.2: 101 is valid only in answer to an Upgrade we forwarded.
            upstream.DisarmTimeout();
            ObserveLatency();
            ReportOutcome(success: true);
            return _upgrade && response.UpgradeIndex >= 0 ? ResponseHeadStep.SwitchingProtocols : ResponseHeadStep.Invalid;
        }

        // RFC 9110 §15.2: a proxy forwards 1xx responses, but never to an HTTP/1.0 client.
        if (_exchange.Request.Version == HttpVersion.Http11)
        {
            DownstreamResponseWriter.WriteInterim(_exchange.Output, response);
            return ResponseHeadStep.Interim;
        }

        return ResponseHeadStep.NeedMore;
    }

    /// <summary>The time to the response head feeds the destination's latency average (which p2c balances on).</summary>
    private void ObserveLatency()
    {
        TimeProvider time = _runtime.TimeProvider;
        long now = time.GetTimestamp();
        _exchange.UpstreamEndTimestamp = now;
        _destination!.ObserveLatency(time.GetElapsedTime(_exchange.UpstreamStartTimestamp, now).TotalMicroseconds, now);
    }

    /// <summary>
    /// After a failed step 3 or 4, or an answer to retry: discards the connection, and either asks for another
    /// try (returns null; the caller connects again and resends) or writes the error and returns whether the
    /// downstream connection stays open.
    /// </summary>
    public async ValueTask<bool?> FailAsync(ResponseHeadStep step)
    {
        UpstreamConnection upstream = _upstream!;
        upstream.DisarmTimeout();
        BodyCopyResult body = await CompleteRequestBodyAsync(upstream);
        upstream.Pool.Return(upstream, reusable: false);
        if (step == ResponseHeadStep.Retry)
        {
            await PrepareRetryAsync();
            return null;
        }

        // A pooled connection the upstream closed just as we reused it, or an HTTP/2 stream it says it never
        // processed (RFC 9113 §8.7: GOAWAY, REFUSED_STREAM): try once more on a fresh one, which is safe only when
        // no body was streamed from the client.
        if (step == ResponseHeadStep.ClosedBeforeResponse && (upstream.CompletedExchanges > 0 || upstream.Unprocessed) && !_exchange.BodyStreams && !_retried)
        {
            _retried = true;
            return null;
        }

        if (body == BodyCopyResult.SourceTruncated)
        {
            // The client went away mid-upload: nobody is left to answer.
            return false;
        }

        if (body is BodyCopyResult.Completed or BodyCopyResult.DestinationClosed)
        {
            // The destination failed us (a fault of the client's body is not held against it).
            ReportOutcome(success: false);
            if (CanRetry(step == ResponseHeadStep.Timeout ? RetryOn.Timeout : RetryOn.Reset))
            {
                await PrepareRetryAsync();
                return null;
            }
        }

        RejectionReason reason = body switch
        {
            BodyCopyResult.TooLarge => RejectionReason.BodyTooLarge,
            BodyCopyResult.SourceTooSlow => RejectionReason.BodyTooSlow,
            BodyCopyResult.SourceInvalid => RejectionReason.InvalidChunkedBody,
            _ => step switch
            {
                ResponseHeadStep.Timeout => RejectionReason.UpstreamResponseTimeout,
                ResponseHeadStep.Invalid => RejectionReason.UpstreamInvalidResponse,
                _ => RejectionReason.UpstreamClosed,
            },
        };
        return AnswerFailure(reason, bodyUnread: body != BodyCopyResult.Completed);
    }

    /// <summary>
    /// The upstream could not answer: a response-head step may answer instead (a stale response); otherwise the
    /// gateway's error goes out. Returns whether the connection stays open.
    /// </summary>
    public bool AnswerFailure(RejectionReason reason, bool bodyUnread)
    {
        if (!bodyUnread && _exchange.Route!.Phases.RunUpstreamFailure(_exchange, reason) is { } keepAlive)
        {
            return keepAlive;
        }

        return _exchange.Reject(reason, _runtime.Date.Line, bodyUnread);
    }

    /// <summary>Steps 5 and 6. Completes synchronously when the whole response is already buffered.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> SendResponseAsync()
    {
        UpstreamConnection upstream = _upstream!;
        RequestHead request = _exchange.Request;
        ResponseHead response = upstream.ResponseHead;
        BodyFraming framing = response.GetBodyFraming(request.Method);

        // An HTTP/1.0 client cannot read chunked framing: the body is de-chunked and delimited by closing.
        bool dechunk = framing == BodyFraming.Chunked && request.Version == HttpVersion.Http10;

        // If the upstream answered before the client finished sending, the rest of the upload is abandoned.
        bool keepAlive = request.KeepAlive && !_exchange.CloseRequested && framing != BodyFraming.UntilClose && !dechunk && _requestBody.IsCompleted;

        _exchange.Status = response.StatusCode;
        GrpcStatusReader? grpc = _exchange.IsGrpc ? _exchange.GrpcStatusReader : null;
        grpc?.ReadHead(response);
        if (_exchange.Route!.Phases.RunResponseHead(_exchange, response) is { } answered)
        {
            // A step answered instead (a cache serving its stored response after a 304): the upstream's body, if
            // any, is not wanted, and its connection is reusable only when nothing of it is left unread.
            BodyCopyResult rest = await CompleteRequestBodyAsync(upstream);
            upstream.Pool.Return(upstream, reusable: framing == BodyFraming.None && rest == BodyCopyResult.Completed && !response.ConnectionClose);
            return answered && rest == BodyCopyResult.Completed;
        }

        // The response-body phase takes the whole body of the responses a step wants (within its bound) before the
        // head goes out, so that the head can carry the new length, or the gateway a 502 instead.
        if (framing is BodyFraming.ContentLength or BodyFraming.Chunked && ResponseBodyLimit(response) is long limit)
        {
            if (framing == BodyFraming.Chunked || response.ContentLength <= limit)
            {
                return await SendWholeResponseAsync(upstream, response, framing, limit, keepAlive);
            }

            bool fail = false;
            foreach (ResponseBodyStep step in _exchange.Route!.Phases.ResponseBody)
            {
                fail |= step.Wants(_exchange, response) && step.OnTooLarge(_exchange);
            }

            if (fail)
            {
                // The body stays unread: the connection goes, and the client gets the reason instead.
                BodyCopyResult rest = await CompleteRequestBodyAsync(upstream);
                upstream.Pool.Return(upstream, reusable: false);
                return _exchange.Reject(RejectionReason.UpstreamResponseTooLarge, _exchange.Date.Line, bodyUnread: rest != BodyCopyResult.Completed);
            }
        }

        // The response-head phase's encoding choice (compression): the body then streams through the encoder, chunked.
        EncodedBody? encoded = framing != BodyFraming.None && !dechunk ? _exchange.Route!.Phases.ResponseEncoding?.Start(_exchange, response, _exchange.Output) : null;
        PipeWriter destination = encoded ?? _exchange.Output;
        IBodySink? sink = _exchange.ResponseBodySink ?? grpc;
        DownstreamResponseWriter.Write(_exchange.Output, response, _exchange, encoded is null ? framing : BodyFraming.Chunked, dechunk, keepAlive, _exchange.Snapshot.Config.Tracing.ServerTiming ? _recorder : null);
        BodyCopyResult responseBody;

        // response_timeout also bounds each silence within the body: an upstream that stalls mid-body is cut off.
        // Not armed when the whole body came with the head (most small responses): arming costs two timer changes.
        BodyRateGuard? silence = framing == BodyFraming.None || BodyAlreadyBuffered(upstream.Input, framing, response.ContentLength) ? null : upstream.BodyGuard;
        silence?.StartSilence(_exchange.Route!.ResponseTimeout ?? _target.Settings.ResponseTimeout);
        try
        {
            responseBody = framing switch
            {
                BodyFraming.ContentLength => await BodyCopier.CopyExactAsync(upstream.Input, destination, response.ContentLength, flushAtEnd: false, silence, CancellationToken.None, sink),
                BodyFraming.Chunked => await ChunkedBody.CopyAsync(upstream.Input, destination, long.MaxValue, dechunk || encoded is not null, silence, CancellationToken.None, sink),
                BodyFraming.UntilClose => await BodyCopier.CopyUntilCloseAsync(upstream.Input, destination, silence, CancellationToken.None, sink),
                _ => BodyCopyResult.Completed,
            };
        }
        catch (Exception)
        {
            // The upstream reset mid-body; closing the downstream makes the truncation visible.
            responseBody = BodyCopyResult.SourceTruncated;
        }
        finally
        {
            silence?.Stop();
        }

        sink?.Complete(responseBody == BodyCopyResult.Completed);
        if (encoded is not null && responseBody == BodyCopyResult.Completed && (await encoded.FinishAsync()).IsCompleted)
        {
            responseBody = BodyCopyResult.DestinationClosed;
        }

        _exchange.ResponseBodyBytes = encoded is not null ? encoded.EncodedBytes
            : framing == BodyFraming.ContentLength && responseBody == BodyCopyResult.Completed ? response.ContentLength
            : silence?.ReceivedBytes ?? 0;
        BodyCopyResult requestBody = await CompleteRequestBodyAsync(upstream);
        upstream.Pool.Return(upstream, Reusable(response, framing, responseBody, requestBody));
        return keepAlive && responseBody == BodyCopyResult.Completed && requestBody == BodyCopyResult.Completed;
    }

    /// <summary>An upstream connection carries another request when both messages were read whole and the upstream did not ask to close.</summary>
    private static bool Reusable(ResponseHead response, BodyFraming framing, BodyCopyResult responseBody, BodyCopyResult requestBody) =>
        responseBody == BodyCopyResult.Completed && requestBody == BodyCopyResult.Completed
        && framing != BodyFraming.UntilClose && !response.ConnectionClose
        && (response.Version == HttpVersion.Http11 || response.ConnectionKeepAlive);

    /// <summary>The bound of the response-body steps that want this response (the smallest), or null when none does.</summary>
    private long? ResponseBodyLimit(ResponseHead response)
    {
        long? limit = null;
        if (_exchange.Request.Method == HttpMethod.Head)
        {
            return null;
        }

        foreach (ResponseBodyStep step in _exchange.Route!.Phases.ResponseBody)
        {
            if (step.Wants(_exchange, response))
            {
                limit = Math.Min(limit ?? long.MaxValue, step.MaxSize);
            }
        }

        return limit;
    }

    /// <summary>
    /// Reads the response body whole (at most <paramref name="limit"/>), lets each step that wants it check or replace it in turn, and sends the result with
    /// its exact length; an upstream body that breaks off, exceeds the bound while chunked, or that the step finds
    /// unusable gets a 502 instead (nothing has gone downstream yet). A replaced body's strong ETag is made weak
    /// (RFC 9110 §8.8.3: the content is no longer the one the strong validator names).
    /// </summary>
    private async ValueTask<bool> SendWholeResponseAsync(UpstreamConnection upstream, ResponseHead response, BodyFraming framing, long limit, bool keepAlive)
    {
        BodyRateGuard silence = upstream.BodyGuard;
        silence.StartSilence(_exchange.Route!.ResponseTimeout ?? _target.Settings.ResponseTimeout);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        BodyCopyResult read;
        try
        {
            read = framing == BodyFraming.ContentLength
                ? await BodyCopier.CopyExactAsync(upstream.Input, pipe.Writer, response.ContentLength, flushAtEnd: true, silence, CancellationToken.None)
                : await ChunkedBody.CopyAsync(upstream.Input, pipe.Writer, limit, dechunk: true, silence, CancellationToken.None);
            await pipe.Writer.FlushAsync();
        }
        catch (Exception)
        {
            read = BodyCopyResult.SourceTruncated;
        }
        finally
        {
            silence.Stop();
        }

        pipe.Writer.Complete();
        pipe.Reader.TryRead(out ReadResult buffered);
        byte[] body = buffered.Buffer.ToArray();
        pipe.Reader.Complete();
        BodyCopyResult requestBody = await CompleteRequestBodyAsync(upstream);
        upstream.Pool.Return(upstream, Reusable(response, framing, read, requestBody));

        ResponseBodyVerdict verdict = read == BodyCopyResult.Completed ? ResponseBodyVerdict.Unchanged : ResponseBodyVerdict.Failed;
        ReadOnlyMemory<byte> sent = body;
        foreach (ResponseBodyStep step in _exchange.Route!.Phases.ResponseBody)
        {
            if (verdict == ResponseBodyVerdict.Failed || !step.Wants(_exchange, response))
            {
                continue;
            }

            ResponseBodyVerdict decided = step.OnResponseBody(_exchange, response, sent, out ReadOnlyMemory<byte> replaced);
            if (decided == ResponseBodyVerdict.Replaced)
            {
                sent = replaced;
                _exchange.WeakenETag(response);
            }

            verdict = decided == ResponseBodyVerdict.Unchanged && verdict == ResponseBodyVerdict.Replaced ? verdict : decided;
        }

        if (verdict == ResponseBodyVerdict.Failed)
        {
            RejectionReason reason = read == BodyCopyResult.TooLarge ? RejectionReason.UpstreamResponseTooLarge
                : read is BodyCopyResult.Completed ? RejectionReason.UpstreamInvalidBody : RejectionReason.UpstreamInvalidResponse;
            return _exchange.Reject(reason, _exchange.Date.Line, bodyUnread: requestBody != BodyCopyResult.Completed);
        }

        // The final body is then encoded (compressed) as any other would be: its length decides as a Content-Length does.
        response.ContentLength = sent.Length;
        EncodedBody? encoded = _exchange.Route.Phases.ResponseEncoding?.Start(_exchange, response, _exchange.Output);
        DownstreamResponseWriter.Write(_exchange.Output, response, _exchange, encoded is null ? BodyFraming.ContentLength : BodyFraming.Chunked, dechunk: false, keepAlive, _exchange.Snapshot.Config.Tracing.ServerTiming ? _recorder : null);
        if (encoded is null)
        {
            _exchange.Output.Write(sent.Span);
            _exchange.ResponseBodyBytes = sent.Length;
            return keepAlive && requestBody == BodyCopyResult.Completed;
        }

        encoded.Write(sent.Span);
        bool delivered = !(await encoded.FinishAsync()).IsCompleted;
        _exchange.ResponseBodyBytes = encoded.EncodedBytes;
        return keepAlive && delivered && requestBody == BodyCopyResult.Completed;
    }

    private static bool BodyAlreadyBuffered(PipeReader input, BodyFraming framing, long contentLength)
    {
        if (framing != BodyFraming.ContentLength || !input.TryRead(out ReadResult buffered))
        {
            return false;
        }

        bool complete = buffered.Buffer.Length >= contentLength;
        input.AdvanceTo(buffered.Buffer.Start);
        return complete;
    }

    /// <summary>After 101: bytes flow both ways until either side closes; then both connections close.</summary>
    public async ValueTask<bool> TunnelAsync()
    {
        UpstreamConnection upstream = _upstream!;
        await _requestBody;
        _exchange.Status = 101;
        DownstreamResponseWriter.WriteSwitchingProtocols(_exchange.Output, upstream.ResponseHead);
        await _exchange.Output.FlushAsync();

        Task upstreamToDownstream = PumpAsync(upstream.Input, _exchange.Output);
        Task downstreamToUpstream = PumpAsync(_exchange.Input, upstream.Output);
        await Task.WhenAny(upstreamToDownstream, downstreamToUpstream);
        upstream.Abort();
        _exchange.Input.CancelPendingRead();
        await Task.WhenAll(upstreamToDownstream, downstreamToUpstream);
        upstream.Pool.Return(upstream, reusable: false);
        return false;
    }

    /// <summary>RFC 9113 §3.1 forbids h2c upgrades through intermediaries; any other upgrade needs Connection: upgrade.</summary>
    private static bool IsForwardableUpgrade(RequestHead request)
    {
        if (request.UpgradeIndex < 0 || !request.ConnectionUpgrade || request.Version != HttpVersion.Http11)
        {
            return false;
        }

        ReadOnlySpan<byte> protocols = request.ValueOf(request.Headers[request.UpgradeIndex]);
        foreach (Range range in protocols.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(HttpCharacters.TrimWhitespace(protocols[range]), "h2c"u8))
            {
                return false;
            }
        }

        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<BodyCopyResult> SendRequestBodyAsync(UpstreamConnection upstream, TimeSpan responseTimeout)
    {
        RequestHead request = _exchange.Request;
        DownstreamLimits limits = _exchange.Snapshot.Limits;
        BodyCopyResult result;
        StartBodyRateGuard(limits);
        try
        {
            // The client waits for 100 Continue, which the upstream sends only once it has seen the head.
            if (request.ExpectContinue && (await upstream.Output.FlushAsync()).IsCompleted)
            {
                return BodyCopyResult.DestinationClosed;
            }

            result = request.IsChunked
                ? await ChunkedBody.CopyAsync(_exchange.Input, upstream.Output, limits.MaxBodySize, dechunk: false, _bodyRate, CancellationToken.None)
                : await BodyCopier.CopyExactAsync(_exchange.Input, upstream.Output, request.ContentLength, flushAtEnd: true, _bodyRate, CancellationToken.None);
            if (result == BodyCopyResult.Completed && request.IsChunked)
            {
                FlushResult flush = await upstream.Output.FlushAsync();
                result = flush.IsCompleted ? BodyCopyResult.DestinationClosed : BodyCopyResult.Completed;
            }
        }
        catch (Exception)
        {
            // The downstream reset mid-body (Kestrel surfaces it as an exception from the read).
            result = BodyCopyResult.SourceTruncated;
        }
        finally
        {
            _bodyRate.Stop();
        }

        _exchange.RequestBodyBytes = _bodyRate.ReceivedBytes;

        if (result == BodyCopyResult.Completed)
        {
            upstream.ArmTimeout(responseTimeout);
        }
        else if (result != BodyCopyResult.DestinationClosed)
        {
            // The upstream must not take a truncated request as complete: abort, which also ends the response wait.
            upstream.Abort();
        }

        return result;
    }

    private ValueTask<BodyCopyResult> CompleteRequestBodyAsync(UpstreamConnection upstream)
    {
        if (!_requestBody.IsCompleted)
        {
            upstream.Abort();
        }

        ValueTask<BodyCopyResult> body = _requestBody;
        _requestBody = default;
        return body;
    }

    /// <summary>Watches the request body's rate on the current connection's input (the forwarder outlives connections).</summary>
    private void StartBodyRateGuard(DownstreamLimits limits)
    {
        _bodyRate.Start(limits.MinBodyRate, limits.BodyRateGrace);
    }

    private static async Task PumpAsync(PipeReader source, PipeWriter destination)
    {
        try
        {
            while (true)
            {
                ReadResult result = await source.ReadAsync();
                if (result.IsCanceled)
                {
                    return;
                }

                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                {
                    destination.Write(segment.Span);
                }

                source.AdvanceTo(result.Buffer.End);
                FlushResult flush = await destination.FlushAsync();
                if (result.IsCompleted || flush.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception)
        {
            // Either side reset: the tunnel is over.
        }
    }
}
