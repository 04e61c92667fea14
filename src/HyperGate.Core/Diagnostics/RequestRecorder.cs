using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Unicode;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;

namespace HyperGate.Diagnostics;

/// <summary>
/// Reports the requests of one connection: starts each request's clock and trace, and when it ends records
/// its metrics, writes its access log line and ends its span. Owns the connection's reusable JSON writer, so
/// a request costs no allocation unless its span is exported.
/// </summary>
public sealed class RequestRecorder : IDisposable
{
    private static readonly JsonEncodedText TimeName = JsonEncodedText.Encode("time");
    private static readonly JsonEncodedText ClientName = JsonEncodedText.Encode("client");
    private static readonly JsonEncodedText MethodName = JsonEncodedText.Encode("method");
    private static readonly JsonEncodedText PathName = JsonEncodedText.Encode("path");
    private static readonly JsonEncodedText ProtocolName = JsonEncodedText.Encode("protocol");
    private static readonly JsonEncodedText GrpcStatusName = JsonEncodedText.Encode("grpc_status");
    private static readonly JsonEncodedText StatusName = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText BytesInName = JsonEncodedText.Encode("bytes_in");
    private static readonly JsonEncodedText BytesOutName = JsonEncodedText.Encode("bytes_out");
    private static readonly JsonEncodedText DurationName = JsonEncodedText.Encode("duration_ms");
    private static readonly JsonEncodedText UpstreamDurationName = JsonEncodedText.Encode("upstream_ms");
    private static readonly JsonEncodedText RouteName = JsonEncodedText.Encode("route");
    private static readonly JsonEncodedText UpstreamName = JsonEncodedText.Encode("upstream");
    private static readonly JsonEncodedText DestinationName = JsonEncodedText.Encode("destination");
    private static readonly JsonEncodedText RetriesName = JsonEncodedText.Encode("retries");
    private static readonly JsonEncodedText ConsumerName = JsonEncodedText.Encode("consumer");
    private static readonly JsonEncodedText RejectionName = JsonEncodedText.Encode("rejection");
    private static readonly JsonEncodedText TraceIdName = JsonEncodedText.Encode("trace_id");
    private static readonly JsonEncodedText RequestIdName = JsonEncodedText.Encode("request_id");
    private static readonly JsonEncodedText TlsName = JsonEncodedText.Encode("tls");
    private static readonly JsonEncodedText CipherName = JsonEncodedText.Encode("cipher");
    private static readonly JsonEncodedText ClientCertName = JsonEncodedText.Encode("client_cert");

    /// <summary>A request that ended before any response was written: the client went away (nginx's 499).</summary>
    public const int ClientClosedRequest = 499;

    private readonly GatewayRuntime _runtime;
    private readonly GatewayTelemetry _telemetry;
    private readonly ArrayBufferWriter<byte>? _line;
    private readonly Utf8JsonWriter? _json;
    private Activity? _span;

    public RequestRecorder(GatewayRuntime runtime)
    {
        _runtime = runtime;
        _telemetry = runtime.Telemetry;
        if (_telemetry.AccessLog is not null)
        {
            _line = new ArrayBufferWriter<byte>(512);
            _json = new Utf8JsonWriter(_line);
        }
    }

    /// <summary>The request head was parsed: its clock and its trace start now.</summary>
    public void Begin(Exchange exchange)
    {
        exchange.StartTimestamp = _runtime.TimeProvider.GetTimestamp();
        TraceContext trace = exchange.Trace;
        trace.Begin(exchange.Request, exchange.Snapshot.Config.Tracing.SampleRate);
        exchange.Snapshot.RequestId?.Begin(exchange);
        if (trace.Sampled && _telemetry.Spans is { } spans)
        {
            _span = StartSpan(spans, trace);
        }
    }

    /// <summary>The response is written (or the request abandoned): records it everywhere it is reported.</summary>
    public void Complete(Exchange exchange)
    {
        if (exchange.Status == 0)
        {
            exchange.Status = ClientClosedRequest;
        }

        TimeProvider time = _runtime.TimeProvider;
        long end = time.GetTimestamp();
        TimeSpan duration = time.GetElapsedTime(exchange.StartTimestamp, end);
        TimeSpan upstream = exchange.UpstreamStartTimestamp == 0 ? TimeSpan.Zero
            : time.GetElapsedTime(exchange.UpstreamStartTimestamp, exchange.UpstreamEndTimestamp == 0 ? end : exchange.UpstreamEndTimestamp);
        _telemetry.Metrics.RecordRequest(exchange, duration, upstream);
        if (exchange.IsGrpc && exchange.GrpcStatus >= 0)
        {
            _telemetry.Metrics.CountGrpc(exchange.Route?.Name, exchange.GrpcStatus);
        }
        if (_telemetry.AccessLog is { } accessLog)
        {
            WriteLine(exchange, duration, upstream);
            accessLog.Enqueue(_line!.WrittenSpan);
        }

        if (_span is { } span)
        {
            _span = null;
            EndSpan(span, exchange, upstream);
        }
    }

    /// <summary>Writes <c>Server-Timing</c> with the gateway's own time so far and the upstream's (to its response head).</summary>
    public void WriteServerTiming(ref HeadWriter output, Exchange exchange)
    {
        TimeProvider time = _runtime.TimeProvider;
        TimeSpan total = time.GetElapsedTime(exchange.StartTimestamp);
        TimeSpan upstream = time.GetElapsedTime(exchange.UpstreamStartTimestamp, exchange.UpstreamEndTimestamp);
        output.Write("Server-Timing: gateway;dur="u8);
        WriteMilliseconds(ref output, total - upstream);
        output.Write(", upstream;dur="u8);
        WriteMilliseconds(ref output, upstream);
        output.Write("\r\n"u8);
    }

    private static void WriteMilliseconds(ref HeadWriter output, TimeSpan elapsed)
    {
        Span<byte> digits = output.GetSpan(32);
        Utf8Formatter.TryFormat(Math.Max(0, elapsed.TotalMilliseconds), digits, out int written, new StandardFormat('F', 3));
        output.Advance(written);
    }

    private void WriteLine(Exchange exchange, TimeSpan duration, TimeSpan upstream)
    {
        Utf8JsonWriter json = _json!;
        _line!.ResetWrittenCount();
        json.Reset();
        RequestHead request = exchange.Request;
        json.WriteStartObject();
        json.WriteString(TimeName, _runtime.TimeProvider.GetUtcNow());
        json.WriteString(ClientName, exchange.Snapshot.TrustedProxies.ClientAddress(exchange));
        json.WriteString(MethodName, request.MethodBytes);

        // The path only: a query may carry credentials (api keys are accepted there). A head refused as
        // malformed may have stopped mid-path, so only valid text is written.
        ReadOnlySpan<byte> path = request.NormalizedPathLength > 0 ? request.NormalizedPath : request.RawPath;
        json.WriteString(PathName, Utf8.IsValid(path) ? path : []);
        json.WriteString(ProtocolName, exchange.Protocol);
        json.WriteNumber(StatusName, exchange.Status);
        if (exchange.GrpcStatus >= 0)
        {
            json.WriteNumber(GrpcStatusName, exchange.GrpcStatus);
        }
        json.WriteNumber(BytesInName, exchange.RequestBodyBytes);
        json.WriteNumber(BytesOutName, exchange.ResponseBodyBytes);
        json.WriteNumber(DurationName, Math.Round(duration.TotalMilliseconds, 3));
        if (exchange.UpstreamStartTimestamp != 0)
        {
            json.WriteNumber(UpstreamDurationName, Math.Round(upstream.TotalMilliseconds, 3));
        }

        WriteOptional(json, RouteName, exchange.Route?.Name);
        WriteOptional(json, UpstreamName, exchange.UpstreamName);
        WriteOptional(json, DestinationName, exchange.Destination?.Address);
        if (exchange.Retries > 0)
        {
            json.WriteNumber(RetriesName, exchange.Retries);
        }

        WriteOptional(json, ConsumerName, exchange.Identity?.ConsumerId);
        if (exchange.Rejection != RejectionReason.None)
        {
            json.WriteString(RejectionName, GatewayMetrics.RejectionName(exchange.Rejection));
        }

        if (exchange.Tls is { } tls)
        {
            json.WriteString(TlsName, tls.ProtocolName);
            json.WriteString(CipherName, tls.CipherName);
            WriteOptional(json, ClientCertName, tls.ClientSubject);
        }

        json.WriteString(TraceIdName, exchange.Trace.TraceId);
        if (exchange.Snapshot.RequestId is not null)
        {
            json.WriteString(RequestIdName, exchange.RequestId);
        }

        json.WriteEndObject();
        json.Flush();
        _line.Write("\n"u8);
    }

    private static void WriteOptional(Utf8JsonWriter json, JsonEncodedText name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }

    /// <summary>
    /// A span for a sampled request, child of the client's span when there is one. The span's own ids become
    /// the trace context the upstream sees, so the exported span and the upstream's parent are the same.
    /// </summary>
    private static Activity? StartSpan(ActivitySource spans, TraceContext trace)
    {
        ActivityContext parent = trace.HasParent
            ? new ActivityContext(ActivityTraceId.CreateFromUtf8String(trace.TraceId), ActivitySpanId.CreateFromUtf8String(trace.ParentSpanId), ActivityTraceFlags.Recorded, isRemote: true)
            : default;
        Activity? span = spans.StartActivity("request", ActivityKind.Server, parent);
        if (span is not null)
        {
            trace.Adopt(span.TraceId, span.SpanId);
        }

        return span;
    }

    private static void EndSpan(Activity span, Exchange exchange, TimeSpan upstream)
    {
        string route = exchange.Route?.Name ?? GatewayMetrics.NoRoute;
        string method = System.Text.Encoding.ASCII.GetString(exchange.Request.MethodBytes);
        span.DisplayName = $"{method} {route}";
        span.SetTag("http.request.method", method);
        span.SetTag("http.response.status_code", exchange.Status);
        span.SetTag("hypergate.route", route);
        span.SetTag("hypergate.upstream", exchange.UpstreamName);
        span.SetTag("hypergate.destination", exchange.Destination?.Address);
        span.SetTag("hypergate.upstream_ms", upstream.TotalMilliseconds);
        if (exchange.Rejection != RejectionReason.None)
        {
            span.SetTag("hypergate.rejection", GatewayMetrics.RejectionName(exchange.Rejection));
        }

        if (exchange.Status >= 500)
        {
            span.SetStatus(ActivityStatusCode.Error);
        }

        span.Stop();
    }

    public void Dispose()
    {
        _span?.Stop();
        _json?.Dispose();
    }
}
