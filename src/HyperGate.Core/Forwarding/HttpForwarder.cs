using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Upstreams;

namespace HyperGate.Forwarding;

/// <summary>
/// Forwards one exchange to an upstream and streams the response back:
/// 1. pick a destination; 2. lease a pooled connection; 3. write the rebuilt head and stream the request body;
/// 4. read the response head (forwarding 1xx, switching protocols on 101); 5. write the response head and stream
/// the body; 6. give the connection back, reusable only if both messages were read completely.
/// The forwarder knows nothing of policies: it runs after them, with the route they let through.
/// </summary>
public static class HttpForwarder
{
    /// <summary>Upstream response heads may carry large cookies; they get more room than request heads.</summary>
    private static readonly HeadLimits ResponseLimits = new(64 * 1024, 256, 0);

    private enum HeadOutcome : byte
    {
        Complete,
        SwitchingProtocols,
        Timeout,
        ClosedBeforeResponse,
        Invalid,
        DownstreamClosed,
    }

    /// <summary>Returns true when the downstream connection may carry another request.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<bool> ForwardAsync(Exchange exchange, GatewayRuntime runtime)
    {
        RequestHead request = exchange.Request;
        Upstream upstream = exchange.Route!.Upstream!;

        // 1. Destination.
        Destination? destination = upstream.PickDestination();
        if (destination is null)
        {
            return Reject(exchange, runtime, RejectionReason.NoDestination, bodyUnread: request.HasBody);
        }

        // 2. Connection.
        UpstreamConnection connection;
        try
        {
            connection = await destination.Pool.RentAsync(CancellationToken.None);
        }
        catch (UpstreamException e)
        {
            return Reject(exchange, runtime, e.Reason, bodyUnread: request.HasBody);
        }

        bool upgrade = IsForwardableUpgrade(request);
        bool retried = false;
        while (true)
        {
            // 3. Request head, then the body streamed concurrently with reading the response:
            //    an upstream may answer early, and Expect: 100-continue needs the interim response relayed.
            UpstreamRequestWriter.Write(connection.Output, exchange, destination, upgrade);
            CancellationToken responseTimeout = connection.StartTimeout(request.HasBody ? Timeout.InfiniteTimeSpan : upstream.Settings.ResponseTimeout);
            ValueTask<BodyCopyResult> requestBody = request.HasBody
                ? SendRequestBodyAsync(exchange, connection, upstream.Settings.ResponseTimeout)
                : FlushRequestAsync(connection);

            // 4. Response head.
            HeadOutcome outcome = await ReadResponseHeadAsync(exchange, connection, upgrade, responseTimeout);
            connection.StopTimeout();
            if (outcome is HeadOutcome.Complete or HeadOutcome.SwitchingProtocols)
            {
                if (outcome == HeadOutcome.SwitchingProtocols)
                {
                    await requestBody;
                    return await TunnelAsync(exchange, connection);
                }

                return await SendResponseAsync(exchange, connection, requestBody);
            }

            BodyCopyResult bodyResult = await CompleteRequestBodyAsync(connection, requestBody);
            await connection.Pool.ReturnAsync(connection, reusable: false);

            // A pooled connection the upstream closed just as we reused it: try once more on a fresh one,
            // which is safe only when no body was consumed from the client.
            if (outcome == HeadOutcome.ClosedBeforeResponse && connection.CompletedExchanges > 0 && !request.HasBody && !retried)
            {
                retried = true;
                try
                {
                    connection = await destination.Pool.ConnectAsync(CancellationToken.None);
                    continue;
                }
                catch (UpstreamException e)
                {
                    return Reject(exchange, runtime, e.Reason, bodyUnread: false);
                }
            }

            RejectionReason reason = bodyResult switch
            {
                BodyCopyResult.TooLarge => RejectionReason.BodyTooLarge,
                BodyCopyResult.SourceInvalid => RejectionReason.InvalidChunkedBody,
                _ => outcome switch
                {
                    HeadOutcome.Timeout => RejectionReason.UpstreamResponseTimeout,
                    HeadOutcome.Invalid => RejectionReason.UpstreamInvalidResponse,
                    _ => RejectionReason.UpstreamClosed,
                },
            };

            bool downstreamGone = outcome == HeadOutcome.DownstreamClosed || bodyResult == BodyCopyResult.SourceTruncated;
            return !downstreamGone && Reject(exchange, runtime, reason, bodyUnread: bodyResult != BodyCopyResult.Completed);
        }
    }

    private static bool Reject(Exchange exchange, GatewayRuntime runtime, RejectionReason reason, bool bodyUnread)
    {
        // With a request body left unread the connection cannot be reused: the next "request" would be body bytes.
        bool keepAlive = exchange.Request.KeepAlive && !bodyUnread && !exchange.CloseRequested;
        GatewayResponses.WriteError(exchange.Output, reason, !keepAlive, runtime.Date.Line);
        exchange.ResponseStatus = GatewayResponses.Describe(reason).Status;
        return keepAlive;
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
    private static async ValueTask<BodyCopyResult> FlushRequestAsync(UpstreamConnection connection)
    {
        try
        {
            FlushResult flush = await connection.Output.FlushAsync();
            return flush.IsCompleted ? BodyCopyResult.DestinationClosed : BodyCopyResult.Completed;
        }
        catch (Exception)
        {
            return BodyCopyResult.DestinationClosed;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<BodyCopyResult> SendRequestBodyAsync(Exchange exchange, UpstreamConnection connection, TimeSpan responseTimeout)
    {
        RequestHead request = exchange.Request;
        BodyCopyResult result;
        try
        {
            // The client waits for 100 Continue, which the upstream sends only once it has seen the head.
            if (request.ExpectContinue && (await connection.Output.FlushAsync()).IsCompleted)
            {
                return BodyCopyResult.DestinationClosed;
            }

            result = request.IsChunked
                ? await ChunkedBody.CopyAsync(exchange.Input, connection.Output, exchange.Snapshot.Limits.MaxBodySize, dechunk: false, CancellationToken.None)
                : await BodyCopier.CopyExactAsync(exchange.Input, connection.Output, request.ContentLength, flushAtEnd: true, CancellationToken.None);
            if (result == BodyCopyResult.Completed && request.IsChunked)
            {
                FlushResult flush = await connection.Output.FlushAsync();
                result = flush.IsCompleted ? BodyCopyResult.DestinationClosed : BodyCopyResult.Completed;
            }
        }
        catch (Exception)
        {
            // The downstream reset mid-body (Kestrel surfaces it as an exception from the read).
            result = BodyCopyResult.SourceTruncated;
        }

        if (result == BodyCopyResult.Completed)
        {
            // The response clock starts when the upstream has the whole request.
            connection.ExtendTimeout(responseTimeout);
        }
        else if (result != BodyCopyResult.DestinationClosed)
        {
            // The upstream must not see a truncated request as complete: abort, which also ends the response wait.
            connection.Abort();
        }

        return result;
    }

    private static async ValueTask<BodyCopyResult> CompleteRequestBodyAsync(UpstreamConnection connection, ValueTask<BodyCopyResult> requestBody)
    {
        if (!requestBody.IsCompleted)
        {
            connection.Abort();
        }

        return await requestBody;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<HeadOutcome> ReadResponseHeadAsync(Exchange exchange, UpstreamConnection connection, bool upgrade, CancellationToken timeout)
    {
        PipeReader input = connection.Input;
        ResponseHead response = connection.ResponseHead;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout);
            }
            catch (OperationCanceledException)
            {
                return HeadOutcome.Timeout;
            }
            catch (Exception)
            {
                return HeadOutcome.ClosedBeforeResponse;
            }

            ReadOnlySequence<byte> buffer = result.Buffer;
            ParseStatus status = ResponseHeadParser.TryParse(buffer, response, ResponseLimits, out SequencePosition consumed, out SequencePosition examined, out _);
            if (status == ParseStatus.Rejected)
            {
                input.AdvanceTo(buffer.Start);
                return HeadOutcome.Invalid;
            }

            if (status == ParseStatus.Incomplete)
            {
                input.AdvanceTo(consumed, examined);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return buffer.IsEmpty ? HeadOutcome.ClosedBeforeResponse : HeadOutcome.Invalid;
                }

                continue;
            }

            input.AdvanceTo(consumed);
            if (response.StatusCode >= 200)
            {
                return HeadOutcome.Complete;
            }

            if (response.StatusCode == 101)
            {
                // RFC 9110 §15.2.2: 101 is valid only in answer to an Upgrade we forwarded.
                return upgrade && response.UpgradeIndex >= 0 ? HeadOutcome.SwitchingProtocols : HeadOutcome.Invalid;
            }

            // RFC 9110 §15.2: a proxy forwards 1xx responses, but never to an HTTP/1.0 client.
            if (exchange.Request.Version == HttpVersion.Http11)
            {
                DownstreamResponseWriter.WriteInterim(exchange.Output, response);
                FlushResult flush = await exchange.Output.FlushAsync();
                if (flush.IsCompleted)
                {
                    return HeadOutcome.DownstreamClosed;
                }
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> SendResponseAsync(Exchange exchange, UpstreamConnection connection, ValueTask<BodyCopyResult> requestBody)
    {
        RequestHead request = exchange.Request;
        ResponseHead response = connection.ResponseHead;
        BodyFraming framing = response.GetBodyFraming(request.Method);

        // An HTTP/1.0 client cannot read chunked framing: the body is de-chunked and delimited by closing.
        bool dechunk = framing == BodyFraming.Chunked && request.Version == HttpVersion.Http10;

        // The upstream answered before the client finished sending: the rest of the upload is abandoned.
        bool requestBodyDone = requestBody.IsCompleted;
        bool keepAlive = request.KeepAlive && !exchange.CloseRequested && framing != BodyFraming.UntilClose && !dechunk && requestBodyDone;

        // 5. Response head and body.
        DownstreamResponseWriter.Write(exchange.Output, response, request, framing, dechunk, keepAlive);
        exchange.ResponseStatus = response.StatusCode;
        BodyCopyResult responseBody;
        try
        {
            responseBody = framing switch
            {
                BodyFraming.ContentLength => await BodyCopier.CopyExactAsync(connection.Input, exchange.Output, response.ContentLength, flushAtEnd: false, CancellationToken.None),
                BodyFraming.Chunked => await ChunkedBody.CopyAsync(connection.Input, exchange.Output, long.MaxValue, dechunk, CancellationToken.None),
                BodyFraming.UntilClose => await BodyCopier.CopyUntilCloseAsync(connection.Input, exchange.Output, CancellationToken.None),
                _ => BodyCopyResult.Completed,
            };
        }
        catch (Exception)
        {
            responseBody = BodyCopyResult.SourceTruncated;
        }

        BodyCopyResult requestResult = await CompleteRequestBodyAsync(connection, requestBody);

        // 6. The connection is reusable only when both messages were fully read and the upstream keeps it open.
        bool upstreamReusable = responseBody == BodyCopyResult.Completed && requestResult == BodyCopyResult.Completed
            && framing != BodyFraming.UntilClose && !response.ConnectionClose
            && (response.Version == HttpVersion.Http11 || response.ConnectionKeepAlive);
        await connection.Pool.ReturnAsync(connection, upstreamReusable);
        return keepAlive && responseBody == BodyCopyResult.Completed && requestResult == BodyCopyResult.Completed;
    }

    /// <summary>After 101: bytes flow both ways until either side closes; then both connections close.</summary>
    private static async ValueTask<bool> TunnelAsync(Exchange exchange, UpstreamConnection connection)
    {
        DownstreamResponseWriter.WriteSwitchingProtocols(exchange.Output, connection.ResponseHead);
        exchange.ResponseStatus = 101;
        await exchange.Output.FlushAsync();

        Task upstreamToDownstream = PumpAsync(connection.Input, exchange.Output);
        Task downstreamToUpstream = PumpAsync(exchange.Input, connection.Output);
        await Task.WhenAny(upstreamToDownstream, downstreamToUpstream);
        connection.Abort();
        exchange.Input.CancelPendingRead();
        await Task.WhenAll(upstreamToDownstream, downstreamToUpstream);
        await connection.Pool.ReturnAsync(connection, reusable: false);
        return false;
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
