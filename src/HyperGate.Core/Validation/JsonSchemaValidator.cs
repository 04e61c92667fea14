using System.Diagnostics.Metrics;
using System.Text.Json;
using HyperGate.Diagnostics;
using HyperGate.Forwarding;
using Json.Schema;

namespace HyperGate.Validation;

/// <summary>One way a document failed its schema: where in the document (a JSON Pointer), and what was wrong.</summary>
public readonly record struct ValidationError(string Pointer, string Message);

/// <summary>
/// A JSON Schema (draft 2020-12 unless the schema names another with <c>$schema</c>), loaded and built once at config
/// load by JsonSchema.Net; evaluation lists every failed keyword with the instance location it concerns.
/// </summary>
public sealed class JsonSchemaValidator
{
    /// <summary>Errors reported per document: enough to fix a request, bounded for an answer's size.</summary>
    public const int MaxErrors = 20;

    private static readonly EvaluationOptions Options = new() { OutputFormat = OutputFormat.List };
    private readonly JsonSchema _schema;

    private JsonSchemaValidator(JsonSchema schema, string source)
    {
        _schema = schema;
        Source = source;
    }

    /// <summary>Where the schema came from (a file, or a part of an OpenAPI document), for messages.</summary>
    public string Source { get; }

    /// <summary>Loads a schema from its text; null and a reason when it is not a usable schema.</summary>
    public static JsonSchemaValidator? Load(string text, string source, out string? error)
    {
        error = null;
        try
        {
            // A registry of its own: the same file loaded again (a reload, another route) is another schema.
            var options = new BuildOptions { SchemaRegistry = new SchemaRegistry() };
            return new JsonSchemaValidator(JsonSchema.FromText(text, options, new Uri($"urn:hypergate:schema:{Uri.EscapeDataString(source)}")), source);
        }
        catch (JsonException e)
        {
            // The reader's message ends with its own (zero-based) position: the location is given once, one-based.
            int position = e.Message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            error = $"{source}:{(e.LineNumber ?? 0) + 1}:{(e.BytePositionInLine ?? 0) + 1}: not JSON: {(position < 0 ? e.Message : e.Message[..position])}";
            return null;
        }
        catch (Exception e) when (e is JsonSchemaException or RefResolutionException or ArgumentException or InvalidOperationException or KeyNotFoundException)
        {
            error = $"{source}: not a usable JSON Schema: {e.Message}";
            return null;
        }
    }

    /// <summary>A schema that is a part of a registered document (an OpenAPI operation's), by its JSON Pointer there.</summary>
    public static JsonSchemaValidator? Reference(Uri document, string pointer, BuildOptions options, string source, out string? error)
    {
        error = null;
        try
        {
            string reference = JsonSerializer.Serialize(document + "#" + pointer, ValidationJson.Default.String);
            return new JsonSchemaValidator(JsonSchema.FromText($$"""{"$ref":{{reference}}}""", options, new Uri($"urn:hypergate:ref:{Guid.NewGuid():N}")), source);
        }
        catch (Exception e) when (e is JsonException or JsonSchemaException or RefResolutionException or ArgumentException or InvalidOperationException or KeyNotFoundException)
        {
            error = e.Message;
            return null;
        }
    }

    /// <summary>A body's errors: one saying where it stops being JSON, or its errors against the schema.</summary>
    public List<ValidationError> ValidateJson(ReadOnlyMemory<byte> body)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
            return Validate(document.RootElement);
        }
        catch (JsonException e)
        {
            return [new ValidationError(string.Empty, $"not JSON: at line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}")];
        }
    }

    /// <summary>The document's errors against the schema (at most <see cref="MaxErrors"/>); empty when it is valid.</summary>
    public List<ValidationError> Validate(JsonElement document)
    {
        EvaluationResults results = _schema.Evaluate(document, Options);
        var errors = new List<ValidationError>();
        if (results.IsValid)
        {
            return errors;
        }

        foreach (EvaluationResults detail in (results.Details ?? []).Prepend(results))
        {
            foreach ((string keyword, string message) in detail.Errors ?? [])
            {
                if (errors.Count == MaxErrors)
                {
                    return errors;
                }

                // A false schema fails with no keyword: the message alone.
                errors.Add(new ValidationError(detail.InstanceLocation.ToString(), keyword.Length == 0 ? message : $"{keyword}: {message}"));
            }
        }

        if (errors.Count == 0)
        {
            errors.Add(new ValidationError(string.Empty, "the document does not match the schema"));
        }

        return errors;
    }
}

/// <summary>Source-generated JSON for the few values validation encodes (AOT-safe).</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class ValidationJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>Validations by route, direction (request or response) and outcome (valid, invalid).</summary>
internal static class ValidationMetrics
{
    private static readonly Counter<long> Validations = PolicyMetrics.Meter.CreateCounter<long>("hypergate.validations", "{document}", "Requests and responses validated, by route, direction and outcome (valid, invalid).");

    public static void Count(Exchange exchange, string direction, bool valid) => Validations.Add(1,
        new KeyValuePair<string, object?>("route", exchange.Route?.Name),
        new KeyValuePair<string, object?>("direction", direction),
        new KeyValuePair<string, object?>("outcome", valid ? "valid" : "invalid"));
}
