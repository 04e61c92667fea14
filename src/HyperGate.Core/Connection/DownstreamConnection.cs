using System.Buffers;
using System.IO.Pipelines;
using HyperGate.Forwarding;
using Microsoft.AspNetCore.Connections;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Routing;

namespace HyperGate.Connection;

/// <summary>
/// The request loop of one downstream connection: parse a head, route it, forward it or answer it, repeat.
/// Pipelined requests already buffered are answered in order and their responses flushed together.
/// </summary>
internal sealed class DownstreamConnection : IDisposable
{
    private readonly Exchange _exchange;
    private readonly GatewayRuntime _runtime;
    private readonly CancellationTokenSource _readTimeout = new();
    private volatile bool _waitingForRequest;

    public DownstreamConnection(Exchange exchange, GatewayRuntime runtime)
    {
        _exchange = exchange;
        _runtime = runtime;
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

    public async Task RunAsync()
    {
        PipeReader input = _exchange.Input;
        PipeWriter output = _exchange.Output;
        try
        {
            while (!_exchange.CloseRequested)
            {
                GatewaySnapshot snapshot = _runtime.Snapshot;
                _exchange.Snapshot = snapshot;
                RejectionReason rejection = await ReadRequestHeadAsync(input, output, snapshot.Limits);
                if (rejection == RejectionReason.ConnectionEnded)
                {
                    break;
                }

                _runtime.CountRequest();
                bool keepAlive = rejection == RejectionReason.None
                    ? await HandleRequestAsync(snapshot)
                    : Reject(rejection, bodyUnread: true);
                if (!keepAlive)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
        {
            // The client went away mid-exchange; nothing is left to answer.
        }
        finally
        {
            await output.FlushAsync();
        }
    }

    /// <summary>
    /// Reads until a complete head is parsed. Responses written for earlier pipelined requests are flushed only
    /// when no more input is buffered, so a pipelined batch costs one write.
    /// </summary>
    private async ValueTask<RejectionReason> ReadRequestHeadAsync(PipeReader input, PipeWriter output, DownstreamLimits limits)
    {
        bool sawBytes = false;
        while (true)
        {
            if (!input.TryRead(out ReadResult result))
            {
                await output.FlushAsync();
                result = await ReadWithTimeoutAsync(input, sawBytes ? limits.RequestHeadTimeout : limits.KeepAliveTimeout);
            }

            if (result.IsCanceled && (_exchange.CloseRequested || _readTimeout.IsCancellationRequested))
            {
                input.AdvanceTo(result.Buffer.Start);
                return _exchange.CloseRequested || result.Buffer.IsEmpty ? RejectionReason.ConnectionEnded : RejectionReason.RequestHeadTimeout;
            }

            ReadOnlySequence<byte> buffer = result.Buffer;
            ParseStatus status = RequestHeadParser.TryParse(buffer, _exchange.Request, limits.Head, out SequencePosition consumed, out SequencePosition examined, out RejectionReason reason);
            switch (status)
            {
                case ParseStatus.Complete:
                    input.AdvanceTo(consumed);
                    return RejectionReason.None;
                case ParseStatus.Rejected:
                    input.AdvanceTo(buffer.Start);
                    return reason;
            }

            input.AdvanceTo(consumed, examined);
            sawBytes = !buffer.IsEmpty;
            if (result.IsCompleted)
            {
                // A client closing between requests is normal; closing halfway through a head is malformed.
                return buffer.IsEmpty ? RejectionReason.ConnectionEnded : RejectionReason.InvalidRequestLine;
            }
        }
    }

    private async ValueTask<ReadResult> ReadWithTimeoutAsync(PipeReader input, TimeSpan timeout)
    {
        // The timer cancels the pending read rather than a token, so an idle connection costs no registration.
        _waitingForRequest = true;
        using ITimer timer = _runtime.TimeProvider.CreateTimer(static state => ((DownstreamConnection)state!).OnReadTimeout(), this, timeout, Timeout.InfiniteTimeSpan);
        try
        {
            if (_exchange.CloseRequested)
            {
                input.CancelPendingRead();
            }

            return await input.ReadAsync();
        }
        finally
        {
            _waitingForRequest = false;
        }
    }

    private void OnReadTimeout()
    {
        _readTimeout.Cancel();
        _exchange.Input.CancelPendingRead();
    }

    /// <summary>Returns true when the connection may carry another request.</summary>
    private async ValueTask<bool> HandleRequestAsync(GatewaySnapshot snapshot)
    {
        RequestHead request = _exchange.Request;

        // The canonical path is what routing, policies and the upstream all see.
        Span<byte> normalized = request.EnsureNormalizedPathBuffer(request.RawPath.Length + 1);
        RejectionReason pathError = PathNormalizer.Normalize(request.RawPath, normalized, out int normalizedLength);
        if (pathError != RejectionReason.None)
        {
            return Reject(pathError, bodyUnread: request.HasBody);
        }

        request.NormalizedPathLength = normalizedLength;
        if (request.ContentLength > snapshot.Limits.MaxBodySize)
        {
            return Reject(RejectionReason.BodyTooLarge, bodyUnread: true);
        }

        RouteMatch match = snapshot.Routes.Match(request);
        if (!match.Success)
        {
            return Reject(match.Rejection, bodyUnread: request.HasBody, match.MethodMismatch?.AllowHeader);
        }

        Route route = match.Route!;
        _exchange.Route = route;
        if (route.DirectResponse is { } direct)
        {
            bool keepAlive = request.KeepAlive && !request.HasBody && !_exchange.CloseRequested;
            GatewayResponses.WriteDirectResponse(_exchange.Output, direct, !keepAlive, _runtime.Date.Line, request.Method != HttpMethod.Head);
            _exchange.ResponseStatus = direct.Status;
            return keepAlive;
        }

        return await HttpForwarder.ForwardAsync(_exchange, _runtime);
    }

    private bool Reject(RejectionReason reason, bool bodyUnread, string? allow = null)
    {
        // After a malformed head the framing of what follows is unknown, so the connection always closes.
        bool keepAlive = _exchange.Request.KeepAlive && !bodyUnread && !_exchange.CloseRequested
            && reason is RejectionReason.NoRoute or RejectionReason.MethodNotAllowed;
        GatewayResponses.WriteError(_exchange.Output, reason, !keepAlive, _runtime.Date.Line, allow);
        _exchange.ResponseStatus = GatewayResponses.Describe(reason).Status;
        return keepAlive;
    }

    public void Dispose() => _readTimeout.Dispose();
}
