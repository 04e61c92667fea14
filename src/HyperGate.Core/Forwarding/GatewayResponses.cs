using System.Buffers.Text;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text;
using HyperGate.Http1;
using HyperGate.Security;

namespace HyperGate.Forwarding;

/// <summary>Responses the gateway writes itself: errors as short JSON bodies, and pre-encoded direct responses.</summary>
public static class GatewayResponses
{
    private static readonly byte[][] ErrorBodies = BuildErrorBodies();
    private static readonly ConcurrentDictionary<int, byte[]> StatusLines = new();

    /// <summary>The status code and the short machine-readable name for each rejection reason.</summary>
    public static (int Status, string Code, string Message) Describe(RejectionReason reason) => reason switch
    {
        RejectionReason.RequestTargetTooLong => (414, "uri_too_long", "The request target is longer than allowed."),
        RejectionReason.UnsupportedHttpVersion => (505, "http_version_not_supported", "Only HTTP/1.1 and HTTP/1.0 are supported."),
        RejectionReason.ConnectNotSupported => (405, "method_not_allowed", "CONNECT is not supported."),
        RejectionReason.HeadTooLarge => (431, "request_header_fields_too_large", "The request head is larger than allowed."),
        RejectionReason.TooManyHeaders => (431, "request_header_fields_too_large", "The request has more header fields than allowed."),
        RejectionReason.HeaderFieldTooLarge => (431, "request_header_fields_too_large", "A header field name or line is longer than allowed."),
        RejectionReason.UnsupportedExpectation => (417, "expectation_failed", "Only Expect: 100-continue is supported."),
        RejectionReason.UnsupportedTransferEncoding => (501, "not_implemented", "Only the chunked transfer coding is supported."),
        RejectionReason.BodyTooLarge => (413, "content_too_large", "The request body is larger than allowed."),
        RejectionReason.NoRoute => (404, "no_route", "No route matches the request."),
        RejectionReason.MethodNotAllowed => (405, "method_not_allowed", "The route does not accept this method."),
        RejectionReason.HttpsRedirect => (308, "https_redirect", "This site is served over HTTPS; see Location."),
        RejectionReason.MisdirectedRequest => (421, "misdirected_request", "The Host is served by another certificate than this connection's; connect again for it."),
        RejectionReason.IpDenied => (403, "forbidden", "Requests from this address are not allowed."),
        RejectionReason.ClientCertificateRequired => (403, "client_certificate_required", "This route requires a verified client certificate."),
        RejectionReason.CorsRejected => (403, "cors_rejected", "The origin, method or headers are not allowed by the CORS policy."),
        RejectionReason.Unauthorized => (401, "unauthorized", "Valid credentials are required."),
        RejectionReason.Forbidden => (403, "forbidden", "The credentials do not allow this request."),
        RejectionReason.RateLimited => (429, "rate_limited", "Too many requests; retry after the time in Retry-After."),
        RejectionReason.RateLimitUnavailable => (503, "rate_limit_unavailable", "The rate limit store is unavailable."),
        RejectionReason.NotCached => (504, "not_cached", "Only a stored response was asked for (only-if-cached), and none can answer."),
        RejectionReason.NoDestination => (503, "no_destination", "The upstream has no destination available."),
        RejectionReason.UpstreamConnectFailed => (502, "upstream_connect_failed", "The upstream refused or reset the connection."),
        RejectionReason.UpstreamTlsFailed => (502, "upstream_tls_failed", "The TLS handshake with the upstream failed (its certificate, name or protocol)."),
        RejectionReason.UpstreamConnectTimeout => (504, "upstream_connect_timeout", "Connecting to the upstream timed out."),
        RejectionReason.UpstreamResponseTimeout => (504, "upstream_timeout", "The upstream did not respond in time."),
        RejectionReason.UpstreamInvalidResponse => (502, "upstream_invalid_response", "The upstream sent a malformed response."),
        RejectionReason.UpstreamClosed => (502, "upstream_closed", "The upstream closed the connection before responding."),
        RejectionReason.UpstreamResponseTooLarge => (502, "upstream_response_too_large", "The upstream's response body is larger than the route transforms."),
        RejectionReason.UpstreamInvalidBody => (502, "upstream_invalid_body", "The upstream's response body is not valid JSON, or breaks the route's response schema."),
        RejectionReason.CircuitOpen => (503, "circuit_open", "The upstream is failing; its circuit breaker is open."),
        RejectionReason.UpstreamOverloaded => (503, "upstream_overloaded", "The upstream has too many requests in flight and waiting."),
        RejectionReason.RequestHeadTimeout => (408, "request_timeout", "The request head did not arrive in time."),
        RejectionReason.BodyTooSlow => (408, "request_timeout", "The request body arrived slower than the minimum rate."),
        RejectionReason.VersionGone => (410, "version_gone", "The API version is no longer served."),
        _ => (400, "bad_request", Message(reason)),
    };

    private static string Message(RejectionReason reason) => reason switch
    {
        RejectionReason.InvalidRequestLine => "The request line is malformed.",
        RejectionReason.InvalidMethod => "The method is not a valid token.",
        RejectionReason.InvalidRequestTarget => "The request target is malformed.",
        RejectionReason.InvalidHeaderName => "A header field name is malformed.",
        RejectionReason.InvalidHeaderValue => "A header field value contains a forbidden character.",
        RejectionReason.ObsoleteLineFolding => "Header line folding is not allowed.",
        RejectionReason.BareLineFeed => "Lines must end with CRLF.",
        RejectionReason.BareCarriageReturn => "A CR must be followed by LF.",
        RejectionReason.MissingHost => "HTTP/1.1 requests need exactly one Host header.",
        RejectionReason.MultipleHost => "HTTP/1.1 requests need exactly one Host header.",
        RejectionReason.InvalidHost => "The Host is not a valid authority.",
        RejectionReason.InvalidContentLength => "Content-Length is not a valid number.",
        RejectionReason.ConflictingContentLength => "Content-Length values conflict.",
        RejectionReason.ContentLengthWithTransferEncoding => "Content-Length and Transfer-Encoding cannot be combined.",
        RejectionReason.InvalidTransferEncoding => "Transfer-Encoding must end with a single chunked coding.",
        RejectionReason.TransferEncodingOnHttp10 => "Transfer-Encoding is not allowed in HTTP/1.0.",
        RejectionReason.InvalidChunkedBody => "The chunked body is malformed.",
        RejectionReason.InvalidPercentEncoding => "The path has an invalid percent-encoding.",
        RejectionReason.EncodedNul => "The path contains an encoded NUL.",
        RejectionReason.EncodedSlash => "The path contains an encoded slash or backslash.",
        RejectionReason.InvalidJsonBody => "The request body is not valid JSON.",
        RejectionReason.InvalidContentEncoding => "The request body does not decode as its Content-Encoding says.",
        RejectionReason.ValidationFailed => "The request does not match the route's schema.",
        RejectionReason.UnknownVersion => "The API version is not supported.",
        _ => "The request is malformed.",
    };

    private static byte[][] BuildErrorBodies()
    {
        var bodies = new byte[Enum.GetValues<RejectionReason>().Length][];
        foreach (RejectionReason reason in Enum.GetValues<RejectionReason>())
        {
            (int status, string code, string message) = Describe(reason);
            bodies[(int)reason] = Encoding.UTF8.GetBytes($$"""{"status":{{status}},"error":"{{code}}","reason":"{{reason}}","message":"{{message}}"}""");
        }

        return bodies;
    }

    /// <summary>
    /// The body of an error whose message names something of the request: the transfer coding a 501 refuses
    /// (RFC 9110 §15.6.2). Built only for such a refusal; every other error body is pre-encoded.
    /// </summary>
    public static byte[]? DetailedErrorBody(RejectionReason reason, RequestHead request)
    {
        if (reason != RejectionReason.UnsupportedTransferEncoding || request.UnsupportedCoding is not { } coding)
        {
            return null;
        }

        // The coding is a token (checked by the parser): no character in it needs escaping in JSON.
        (int status, string code, _) = Describe(reason);
        return Encoding.UTF8.GetBytes($$"""{"status":{{status}},"error":"{{code}}","reason":"{{reason}}","message":"The transfer coding '{{coding}}' is not supported; only chunked is."}""");
    }

    /// <summary>
    /// Writes an error response (not flushed), with an extra field line such as Allow (405) or WWW-Authenticate (401),
    /// and the reason's pre-encoded body unless <paramref name="body"/> is given.
    /// </summary>
    public static void WriteError(PipeWriter pipe, RejectionReason reason, bool close, ReadOnlySpan<byte> dateLine, byte[]? field = null, Exchange? exchange = null, byte[]? body = null)
    {
        (int status, _, string message) = Describe(reason);
        if (exchange is { IsGrpc: true })
        {
            GrpcCalls.WriteError(pipe, GrpcCalls.StatusFor(status), message, dateLine, exchange);
            return;
        }

        body ??= ErrorBodies[(int)reason];
        var output = new HeadWriter(pipe);
        WriteStatusLine(ref output, status);
        output.Write("Content-Type: application/json\r\nContent-Length: "u8);
        WriteNumber(ref output, body.Length);
        output.Write("\r\n"u8);
        output.Write(dateLine);
        if (field is not null)
        {
            output.Write(field);
        }

        exchange?.WriteGatewayFields(ref output);
        output.Write(close ? "Connection: close\r\n\r\n"u8 : "\r\n"u8);
        output.Write(body);
        output.Commit();
        if (exchange is not null)
        {
            exchange.ResponseBodyBytes = body.Length;
        }
    }

    /// <summary>Writes a direct response: its pre-encoded head fields, then Date, Connection and the body.</summary>
    public static void WriteDirectResponse(PipeWriter pipe, DirectResponse response, bool close, ReadOnlySpan<byte> dateLine, bool includeBody, Exchange exchange)
    {
        var output = new HeadWriter(pipe);
        output.Write(response.Head);
        output.Write(dateLine);
        exchange.WriteGatewayFields(ref output);
        output.Write(close ? "Connection: close\r\n\r\n"u8 : "\r\n"u8);
        if (includeBody)
        {
            output.Write(response.Body);
            exchange.ResponseBodyBytes = response.Body.Length;
        }

        output.Commit();
    }

    /// <summary>Answers a CORS preflight: 204 with the policy's fields.</summary>
    /// <summary>The status of an allowed CORS preflight's answer.</summary>
    public const int PreflightStatus = 204;

    public static void WritePreflight(PipeWriter pipe, CorsPolicy cors, RequestHead request, bool close, ReadOnlySpan<byte> dateLine)
    {
        var output = new HeadWriter(pipe);
        WriteStatusLine(ref output, PreflightStatus);
        output.Write(dateLine);
        cors.WritePreflightFields(ref output, request);
        output.Write(close ? "Connection: close\r\n\r\n"u8 : "\r\n"u8);
        output.Commit();
    }

    /// <summary>Writes a status line with the upstream's reason phrase, or the standard one when it sent none.</summary>
    public static void WriteStatusLine(ref HeadWriter output, int status, ReadOnlySpan<byte> reasonPhrase)
    {
        if (reasonPhrase.IsEmpty)
        {
            WriteStatusLine(ref output, status);
            return;
        }

        output.Write("HTTP/1.1 "u8);
        WriteNumber(ref output, status);
        output.Write(" "u8);
        output.Write(reasonPhrase);
        output.Write("\r\n"u8);
    }

    public static void WriteStatusLine(ref HeadWriter output, int status) =>
        output.Write(StatusLines.GetOrAdd(status, static code => Encoding.ASCII.GetBytes($"HTTP/1.1 {code} {ReasonPhrase(code)}\r\n")));

    public static void WriteNumber(ref HeadWriter output, long value)
    {
        Span<byte> span = output.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out int written);
        output.Advance(written);
    }

    public static string ReasonPhrase(int status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Status";
}
