using System.Buffers;
using System.Diagnostics.Metrics;
using System.Text;
using HyperGate.Diagnostics;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Transforms.Json;

/// <summary>Bodies seen by JSON transforms, by route, direction (request or response) and outcome.</summary>
internal static class JsonBodyMetrics
{
    private static readonly Counter<long> Bodies = PolicyMetrics.Meter.CreateCounter<long>("hypergate.body_transforms", "{body}", "Bodies seen by JSON body transforms, by route, direction and outcome (transformed, invalid, too_large).");

    public static void Count(Exchange exchange, string direction, string outcome) => Bodies.Add(1,
        new KeyValuePair<string, object?>("route", exchange.Route?.Name),
        new KeyValuePair<string, object?>("direction", direction),
        new KeyValuePair<string, object?>("outcome", outcome));
}

/// <summary>Whether a message's Content-Type is JSON: application/json or any +json type (RFC 6839 §3.1), parameters aside.</summary>
internal static class JsonMediaType
{
    public static bool IsJson(MessageHead head) => head.TryGetHeader("content-type"u8, out ReadOnlySpan<byte> value) && IsJsonType(value);

    /// <summary>A media type (with any parameters) that is JSON; RFC 9110 §8.3.1: type and subtype are case-insensitive, OWS around ';'.</summary>
    public static bool IsJsonType(ReadOnlySpan<byte> value)
    {
        int semicolon = value.IndexOf((byte)';');
        ReadOnlySpan<byte> type = (semicolon < 0 ? value : value[..semicolon]).Trim(" \t"u8);
        return Ascii.EqualsIgnoreCase(type, "application/json"u8)
            || (type.Length > "application/+json".Length && Ascii.EqualsIgnoreCase(type[.."application/".Length], "application/"u8) && Ascii.EqualsIgnoreCase(type[^"+json".Length..], "+json"u8));
    }

    /// <summary>Whether the body is sent as is (no Content-Encoding, or identity): a compressed body cannot be read as JSON.</summary>
    public static bool IsUnencoded(MessageHead head)
    {
        // A coding the gateway already decoded (its field dropped) no longer applies.
        foreach (ref readonly HeaderField field in head.Headers)
        {
            if (!field.Dropped && Ascii.EqualsIgnoreCase(head.NameOf(field), "content-encoding"u8) && !Ascii.EqualsIgnoreCase(head.ValueOf(field).Trim(" \t"u8), "identity"u8))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Applies the transform to a whole body; null when it is not JSON (<paramref name="error"/> says where).</summary>
    public static byte[]? Transform(JsonBodyTransform transform, Exchange exchange, ReadOnlySpan<byte> body, out JsonSyntaxError? error)
    {
        var output = new ArrayBufferWriter<byte>(Math.Max(256, body.Length));
        using var transformer = new JsonTransformer(transform, exchange, output);
        bool ok = transformer.Transform(body, final: true, out _);
        error = transformer.Error;
        return ok ? output.WrittenSpan.ToArray() : null;
    }
}

/// <summary><c>request_body</c>: a JSON request body transformed before it is forwarded; one that is not JSON is refused with 400 saying where.</summary>
public sealed class JsonRequestBodyStep(JsonBodyTransform transform) : RequestBodyStep
{
    public override long MaxSize => transform.MaxSize;

    public override StepResult OnRequestBody(Exchange exchange, ref byte[] body)
    {
        if (!JsonMediaType.IsJson(exchange.Request) || !JsonMediaType.IsUnencoded(exchange.Request))
        {
            return StepResult.Continue;
        }

        if (JsonMediaType.Transform(transform, exchange, body, out JsonSyntaxError? error) is { } transformed)
        {
            body = transformed;
            JsonBodyMetrics.Count(exchange, "request", "transformed");
            return StepResult.Continue;
        }

        JsonBodyMetrics.Count(exchange, "request", "invalid");
        bool keepAlive = exchange.Request.KeepAlive && !exchange.CloseRequested;
        exchange.Rejection = RejectionReason.InvalidJsonBody;
        ProblemDetails.Write(exchange, 400, "invalid-json", "The request body is not valid JSON",
            $"At line {error!.Line}, byte {error.Column} (offset {error.Offset}): {error.Message}", [], close: !keepAlive);
        return StepResult.Answered(keepAlive);
    }
}

/// <summary><c>response_body</c>: a JSON response body transformed before it goes to the client.</summary>
public sealed class JsonResponseBodyStep(JsonBodyTransform transform) : ResponseBodyStep
{
    public override long MaxSize => transform.MaxSize;

    public override bool Wants(Exchange exchange, ResponseHead response) => JsonMediaType.IsJson(response) && JsonMediaType.IsUnencoded(response);

    public override ResponseBodyVerdict OnResponseBody(Exchange exchange, ResponseHead response, ReadOnlyMemory<byte> body, out ReadOnlyMemory<byte> replaced)
    {
        replaced = body;
        if (JsonMediaType.Transform(transform, exchange, body.Span, out _) is { } transformed)
        {
            replaced = transformed;
            JsonBodyMetrics.Count(exchange, "response", "transformed");
            return ResponseBodyVerdict.Replaced;
        }

        JsonBodyMetrics.Count(exchange, "response", "invalid");
        return transform.FailOnInvalid ? ResponseBodyVerdict.Failed : ResponseBodyVerdict.Unchanged;
    }

    public override bool OnTooLarge(Exchange exchange)
    {
        JsonBodyMetrics.Count(exchange, "response", "too_large");
        return transform.FailOnTooLarge;
    }
}
