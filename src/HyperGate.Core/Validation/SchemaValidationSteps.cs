using System.Text;
using System.Text.Json;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;
using HyperGate.Transforms.Json;
using Microsoft.Extensions.Logging;

namespace HyperGate.Validation;

/// <summary>
/// <c>validate = { schema = "…" }</c>: a request body must be JSON (else 415) that parses (else 400 saying where) and
/// matches the schema (else 400 listing every error with its JSON Pointer, RFC 9457); none of those reaches the
/// upstream. The body is validated as the client sent it, before any body transform.
/// </summary>
public sealed class RequestSchemaStep(JsonSchemaValidator validator, long maxSize) : RequestBodyStep
{
    public override long MaxSize => maxSize;

    public override StepResult OnRequestBody(Exchange exchange, ref byte[] body)
    {
        bool keepAlive = exchange.Request.KeepAlive && !exchange.CloseRequested;
        if (!JsonMediaType.IsJson(exchange.Request) || !JsonMediaType.IsUnencoded(exchange.Request))
        {
            ValidationMetrics.Count(exchange, "request", valid: false);
            exchange.Rejection = RejectionReason.InvalidJsonBody;
            ProblemDetails.Write(exchange, 415, "unsupported-media-type", "The request body must be JSON", "This route validates request bodies against a JSON Schema: send Content-Type: application/json.", [], close: !keepAlive);
            return StepResult.Answered(keepAlive);
        }

        List<ValidationError> errors;
        try
        {
            using JsonDocument document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
            errors = validator.Validate(document.RootElement);
        }
        catch (JsonException e)
        {
            ValidationMetrics.Count(exchange, "request", valid: false);
            exchange.Rejection = RejectionReason.InvalidJsonBody;
            ProblemDetails.Write(exchange, 400, "invalid-json", "The request body is not valid JSON", $"At line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}: {e.Message}", [], close: !keepAlive);
            return StepResult.Answered(keepAlive);
        }

        ValidationMetrics.Count(exchange, "request", errors.Count == 0);
        if (errors.Count == 0)
        {
            return StepResult.Continue;
        }

        exchange.Rejection = RejectionReason.ValidationFailed;
        ProblemDetails.Write(exchange, 400, "validation-failed", "The request body does not match the route's schema",
            $"{errors.Count}{(errors.Count == JsonSchemaValidator.MaxErrors ? " or more" : string.Empty)} error(s) against {validator.Source}", [.. errors.Select(e => (e.Pointer, e.Message))], close: !keepAlive);
        return StepResult.Answered(keepAlive);
    }
}

/// <summary>
/// <c>validate = { response_schema = "…", response = "log" | "strict" }</c>: JSON response bodies are checked against
/// the service's contract. A mismatch is counted and logged (and the response goes out) or, strict, becomes a 502.
/// A service that breaks its contract on every response is logged at most once a second per route (with how many
/// were not), so that the log shows it without drowning in it.
/// </summary>
public sealed class ResponseSchemaStep(JsonSchemaValidator validator, long maxSize, bool strict, ILogger log, TimeProvider time) : ResponseBodyStep
{
    private long _lastLogged = long.MinValue;
    private long _unlogged;

    public override long MaxSize => maxSize;

    public override bool Wants(Exchange exchange, ResponseHead response) =>
        response.StatusCode is >= 200 and < 300 && JsonMediaType.IsJson(response) && JsonMediaType.IsUnencoded(response);

    public override ResponseBodyVerdict OnResponseBody(Exchange exchange, ResponseHead response, ReadOnlyMemory<byte> body, out ReadOnlyMemory<byte> replaced)
    {
        replaced = body;
        List<ValidationError> errors = validator.ValidateJson(body);
        ValidationMetrics.Count(exchange, "response", errors.Count == 0);
        if (errors.Count == 0)
        {
            return ResponseBodyVerdict.Unchanged;
        }

        Report(exchange, errors);
        return strict ? ResponseBodyVerdict.Failed : ResponseBodyVerdict.Unchanged;
    }

    private void Report(Exchange exchange, List<ValidationError> errors)
    {
        long now = time.GetTimestamp();
        long last = Interlocked.Read(ref _lastLogged);
        if (last != long.MinValue && time.GetElapsedTime(last, now) < TimeSpan.FromSeconds(1) || Interlocked.CompareExchange(ref _lastLogged, now, last) != last)
        {
            Interlocked.Increment(ref _unlogged);
            return;
        }

        long skipped = Interlocked.Exchange(ref _unlogged, 0);
        log.LogWarning("route {Route}: a {Status} response from upstream {Upstream} breaks {Schema} ({Errors}); request id {RequestId}; {Skipped} more since the last report",
            exchange.Route?.Name, exchange.Status, exchange.UpstreamName, validator.Source,
            string.Join("; ", errors.Take(3).Select(e => $"{(e.Pointer.Length == 0 ? "/" : e.Pointer)}: {e.Message}")), Encoding.ASCII.GetString(exchange.RequestId), skipped);
    }
}
