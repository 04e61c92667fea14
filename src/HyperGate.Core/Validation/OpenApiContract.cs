using System.Text;
using System.Text.Json;
using HyperGate.Http1;
using HyperGate.Transforms.Json;
using Json.Schema;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace HyperGate.Validation;

/// <summary>Where a parameter is (OpenAPI's <c>in</c>); cookies are not checked.</summary>
public enum ParameterPlace : byte
{
    Path,
    Query,
    Header,
}

/// <summary>A parameter of an operation: its name, place, whether it is required, its schema and the JSON type its text is read as.</summary>
public sealed record OperationParameter(string Name, ParameterPlace Place, bool Required, JsonSchemaValidator? Schema, string? Type);

/// <summary>One operation of the API description: method and path template, parameters, and the request body it takes.</summary>
public sealed class ContractOperation(string method, string path, OperationParameter[] parameters, bool bodyRequired, string[] mediaTypes, JsonSchemaValidator? jsonBody)
{
    public string Method { get; } = method;

    public string Path { get; } = path;

    public string[] Segments { get; } = path.Length > 1 ? path[1..].Split('/') : [];

    public int LiteralSegments => Segments.Count(s => !s.StartsWith('{'));

    public OperationParameter[] Parameters { get; } = parameters;

    public bool BodyRequired { get; } = bodyRequired;

    /// <summary>The media types the operation's request body may have (empty: it declares no body).</summary>
    public string[] MediaTypes { get; } = mediaTypes;

    /// <summary>The schema of a JSON request body, when it declares one.</summary>
    public JsonSchemaValidator? JsonBody { get; } = jsonBody;
}

/// <summary>
/// An OpenAPI 3.0 or 3.1 document (JSON or YAML), read with Microsoft.OpenApi and turned into operations whose
/// schemas are JsonSchema.Net schemas: the document is re-written as OpenAPI 3.1 JSON (3.0's schema dialect upgraded
/// by the reader) and each schema is a reference into it, so <c>$ref</c>s to components resolve as they do in the
/// document. A request matches an operation by method and path template, a concrete segment before a template one.
/// </summary>
public sealed class OpenApiContract
{
    private readonly ContractOperation[] _operations;

    private OpenApiContract(ContractOperation[] operations, string source)
    {
        _operations = [.. operations.OrderByDescending(o => o.LiteralSegments)];
        Source = source;
    }

    public string Source { get; }

    public IReadOnlyList<ContractOperation> Operations => _operations;

    /// <summary>Reads the document; null and every problem (with its place in the document) when it is not usable.</summary>
    public static OpenApiContract? Load(byte[] content, string source, out List<string> errors)
    {
        errors = [];
        var settings = new OpenApiReaderSettings();
        settings.AddYamlReader();
        string format = source.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "json" : "yaml";
        ReadResult read;
        try
        {
            read = OpenApiDocument.Load(new MemoryStream(content), format, settings);
        }
        catch (Exception e) when (e is OpenApiException or JsonException or FormatException or InvalidOperationException)
        {
            errors.Add($"{source}: not an OpenAPI document: {e.Message}");
            return null;
        }

        foreach (OpenApiError error in read.Diagnostic?.Errors ?? [])
        {
            errors.Add($"{source}{error.Pointer}: {error.Message}");
        }

        if (read.Document is not { } document || errors.Count > 0)
        {
            if (errors.Count == 0)
            {
                errors.Add($"{source}: not an OpenAPI document");
            }

            return null;
        }

        // The document as OpenAPI 3.1 JSON: the base every schema reference points into.
        var text = new StringWriter();
        document.SerializeAsV31(new OpenApiJsonWriter(text));
        JsonElement root = JsonDocument.Parse(text.ToString()).RootElement.Clone();
        var documentUri = new Uri($"urn:hypergate:openapi:{Uri.EscapeDataString(source)}");
        var registry = new SchemaRegistry();
        registry.Register(documentUri, new JsonElementBaseDocument(root, documentUri));
        var options = new BuildOptions { SchemaRegistry = registry };

        var operations = new List<ContractOperation>();
        if (root.TryGetProperty("paths", out JsonElement paths))
        {
            foreach (JsonProperty path in paths.EnumerateObject())
            {
                JsonElement pathItem = Resolve(root, path.Value, out string pathPointer, $"/paths/{Escape(path.Name)}");
                foreach (JsonProperty member in pathItem.EnumerateObject())
                {
                    string method = member.Name.ToUpperInvariant();
                    if (method is not ("GET" or "PUT" or "POST" or "DELETE" or "OPTIONS" or "HEAD" or "PATCH" or "TRACE"))
                    {
                        continue;
                    }

                    string operationPointer = $"{pathPointer}/{member.Name}";
                    operations.Add(ReadOperation(root, method, path.Name, pathItem, member.Value, operationPointer, pathPointer, documentUri, options, source, errors));
                }
            }
        }

        return errors.Count > 0 ? null : new OpenApiContract([.. operations], source);
    }

    /// <summary>The operation a request is for; null with <paramref name="pathKnown"/> saying whether another method has the path.</summary>
    public ContractOperation? Match(string method, ReadOnlySpan<byte> path, out bool pathKnown, out Dictionary<string, string> pathValues)
    {
        pathKnown = false;
        pathValues = [];
        string[] segments = path.Length > 1 ? Encoding.ASCII.GetString(path[1..]).Split('/') : [];
        foreach (ContractOperation operation in _operations)
        {
            if (!Matches(operation.Segments, segments, out Dictionary<string, string> values))
            {
                continue;
            }

            pathKnown = true;
            if (operation.Method == method || (method == "HEAD" && operation.Method == "GET" && !_operations.Any(o => o.Method == "HEAD" && o.Path == operation.Path)))
            {
                pathValues = values;
                return operation;
            }
        }

        return null;
    }

    private static bool Matches(string[] template, string[] segments, out Dictionary<string, string> values)
    {
        values = [];
        if (template.Length != segments.Length)
        {
            return false;
        }

        for (int i = 0; i < template.Length; i++)
        {
            string expected = template[i];
            if (expected.Length > 2 && expected[0] == '{' && expected[^1] == '}')
            {
                if (segments[i].Length == 0)
                {
                    return false;
                }

                values[expected[1..^1]] = Uri.UnescapeDataString(segments[i]);
            }
            else if (expected != segments[i])
            {
                return false;
            }
        }

        return true;
    }

    private static ContractOperation ReadOperation(JsonElement root, string method, string path, JsonElement pathItem, JsonElement operation, string operationPointer, string pathPointer, Uri documentUri, BuildOptions options, string source, List<string> errors)
    {
        JsonSchemaValidator? Schema(string pointer)
        {
            JsonSchemaValidator? validator = JsonSchemaValidator.Reference(documentUri, pointer, options, $"{source}#{pointer}", out string? error);
            if (validator is null)
            {
                errors.Add($"{source}#{pointer}: {error}");
            }

            return validator;
        }

        // Path-level parameters apply unless the operation redefines them (same name and place).
        var parameters = new Dictionary<(string, ParameterPlace), OperationParameter>();
        foreach ((JsonElement list, string listPointer) in new[] { (pathItem, pathPointer), (operation, operationPointer) })
        {
            if (!list.TryGetProperty("parameters", out JsonElement items))
            {
                continue;
            }

            int index = 0;
            foreach (JsonElement item in items.EnumerateArray())
            {
                JsonElement parameter = Resolve(root, item, out string parameterPointer, $"{listPointer}/parameters/{index++}");
                string name = parameter.GetProperty("name").GetString()!;
                ParameterPlace? place = parameter.GetProperty("in").GetString() switch
                {
                    "path" => ParameterPlace.Path,
                    "query" => ParameterPlace.Query,
                    "header" => ParameterPlace.Header,
                    _ => null,
                };
                if (place is null)
                {
                    continue;
                }

                bool required = place == ParameterPlace.Path || (parameter.TryGetProperty("required", out JsonElement r) && r.ValueKind == JsonValueKind.True);
                JsonSchemaValidator? schema = parameter.TryGetProperty("schema", out JsonElement schemaElement) ? Schema($"{parameterPointer}/schema") : null;
                string? type = schemaElement.ValueKind == JsonValueKind.Object ? TypeOf(root, schemaElement) : null;
                parameters[(place == ParameterPlace.Header ? name.ToLowerInvariant() : name, place.Value)] = new OperationParameter(name, place.Value, required, schema, type);
            }
        }

        bool bodyRequired = false;
        string[] mediaTypes = [];
        JsonSchemaValidator? jsonBody = null;
        if (operation.TryGetProperty("requestBody", out JsonElement bodyReference))
        {
            JsonElement body = Resolve(root, bodyReference, out string bodyPointer, $"{operationPointer}/requestBody");
            bodyRequired = body.TryGetProperty("required", out JsonElement r) && r.ValueKind == JsonValueKind.True;
            if (body.TryGetProperty("content", out JsonElement content))
            {
                mediaTypes = [.. content.EnumerateObject().Select(c => c.Name)];
                foreach (JsonProperty media in content.EnumerateObject())
                {
                    if (JsonMediaType.IsJsonType(Encoding.ASCII.GetBytes(media.Name)) && media.Value.TryGetProperty("schema", out _))
                    {
                        jsonBody = Schema($"{bodyPointer}/content/{Escape(media.Name)}/schema");
                        break;
                    }
                }
            }
        }

        return new ContractOperation(method, path, [.. parameters.Values], bodyRequired, mediaTypes, jsonBody);
    }

    /// <summary>A parameter schema's type, to read the parameter's text as (following one $ref).</summary>
    private static string? TypeOf(JsonElement root, JsonElement schema)
    {
        JsonElement resolved = Resolve(root, schema, out _, string.Empty);
        if (!resolved.TryGetProperty("type", out JsonElement type))
        {
            return null;
        }

        return type.ValueKind == JsonValueKind.String ? type.GetString()
            : type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()).FirstOrDefault(t => t != "null")
            : null;
    }

    /// <summary>Follows a local <c>$ref</c> (components) once; the pointer of what was found.</summary>
    private static JsonElement Resolve(JsonElement root, JsonElement element, out string pointer, string fallbackPointer)
    {
        pointer = fallbackPointer;
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty("$ref", out JsonElement reference) || reference.GetString() is not ['#', '/', ..] target)
        {
            return element;
        }

        JsonElement current = root;
        foreach (string segment in target[2..].Split('/'))
        {
            if (!current.TryGetProperty(segment.Replace("~1", "/").Replace("~0", "~"), out current))
            {
                return element;
            }
        }

        pointer = target[1..];
        return current;
    }

    private static string Escape(string segment) => segment.Replace("~", "~0").Replace("/", "~1");
}
