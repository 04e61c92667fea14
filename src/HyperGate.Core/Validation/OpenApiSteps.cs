using System.Text;
using System.Text.Json;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;
using HyperGate.Transforms.Json;

namespace HyperGate.Validation;

/// <summary>
/// <c>validate = { openapi = "api.yaml" }</c>, request phase: the request must be an operation of the description
/// (404 when its path is not in it, 405 when the path is but not the method), with its path, query and header
/// parameters valid against their schemas, and a body when one is required. Errors point into the request as a
/// document: <c>/path/id</c>, <c>/query/limit</c>, <c>/header/X-Tenant</c>, <c>/body</c>.
/// </summary>
public sealed class OpenApiRequestStep(OpenApiContract contract, string basePath) : RequestStep
{
    public OpenApiContract Contract => contract;

    public override ValueTask<StepResult> RunAsync(Exchange exchange)
    {
        RequestHead request = exchange.Request;
        ContractOperation? operation = Find(exchange, out bool pathKnown, out Dictionary<string, string> pathValues);
        if (operation is null)
        {
            return ValueTask.FromResult(pathKnown
                ? Refuse(exchange, 405, "method-not-in-contract", "The API description has no such operation", $"{Encoding.ASCII.GetString(request.MethodBytes)} is not an operation of this path in {contract.Source}.", [])
                : Refuse(exchange, 404, "path-not-in-contract", "The API description has no such path", $"The path is not in {contract.Source}.", []));
        }

        var errors = new List<(string, string)>();
        foreach (OperationParameter parameter in operation.Parameters)
        {
            string? value = parameter.Place switch
            {
                ParameterPlace.Path => pathValues.GetValueOrDefault(parameter.Name),
                ParameterPlace.Query => QueryValue(request, parameter.Name),
                _ => request.TryGetHeader(Encoding.ASCII.GetBytes(parameter.Name), out ReadOnlySpan<byte> header) ? Encoding.Latin1.GetString(header) : null,
            };
            string pointer = $"/{parameter.Place.ToString().ToLowerInvariant()}/{parameter.Name.Replace("~", "~0").Replace("/", "~1")}";
            if (value is null)
            {
                if (parameter.Required)
                {
                    errors.Add((pointer, "required: the parameter is missing"));
                }

                continue;
            }

            if (parameter.Schema is { } schema)
            {
                using JsonDocument document = JsonDocument.Parse(AsJson(value, parameter.Type));
                errors.AddRange(schema.Validate(document.RootElement).Select(e => (pointer + e.Pointer, e.Message)));
            }
        }

        if (operation.BodyRequired && !request.HasBody)
        {
            errors.Add(("/body", "required: the operation needs a request body"));
        }

        if (errors.Count > 0)
        {
            ValidationMetrics.Count(exchange, "request", valid: false);
            return ValueTask.FromResult(Refuse(exchange, 400, "validation-failed", "The request does not match the API description", $"{errors.Count} error(s) against {contract.Source}", errors));
        }

        if (!request.HasBody)
        {
            ValidationMetrics.Count(exchange, "request", valid: true);
        }

        return ValueTask.FromResult(StepResult.Continue);
    }

    /// <summary>The operation for this request, its path matched after the base path (the part of the gateway's path the description leaves out).</summary>
    internal ContractOperation? Find(Exchange exchange, out bool pathKnown, out Dictionary<string, string> pathValues)
    {
        ReadOnlySpan<byte> path = exchange.Request.NormalizedPath;
        byte[] prefix = Encoding.ASCII.GetBytes(basePath);
        if (prefix.Length > 0 && path.StartsWith(prefix) && (path.Length == prefix.Length || path[prefix.Length] == '/'))
        {
            path = path.Length == prefix.Length ? "/"u8 : path[prefix.Length..];
        }

        return contract.Match(Encoding.ASCII.GetString(exchange.Request.MethodBytes), path, out pathKnown, out pathValues);
    }

    private static string? QueryValue(RequestHead request, string name)
    {
        if (!QueryString.TryFind(request.Query, Encoding.UTF8.GetBytes(name), out ReadOnlySpan<byte> raw))
        {
            return null;
        }

        var decoded = new byte[raw.Length];
        return Encoding.UTF8.GetString(decoded.AsSpan(0, QueryString.Decode(raw, decoded)));
    }

    /// <summary>A parameter's text as the JSON value its schema's type reads it as (a string when it does not read as that type).</summary>
    private static string AsJson(string value, string? type)
    {
        switch (type)
        {
            case "integer" when long.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long number):
                return number.ToString(System.Globalization.CultureInfo.InvariantCulture);
            case "number" when double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double real) && double.IsFinite(real):
                return real.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            case "boolean" when value is "true" or "false":
                return value;
            case "array":
                return "[" + string.Join(",", value.Split(',').Select(item => JsonSerializer.Serialize(item, ValidationJson.Default.String))) + "]";
            default:
                return JsonSerializer.Serialize(value, ValidationJson.Default.String);
        }
    }

    internal static StepResult Refuse(Exchange exchange, int status, string type, string title, string detail, IReadOnlyList<(string, string)> errors)
    {
        bool keepAlive = exchange.Request.KeepAlive && !exchange.CloseRequested && (!exchange.Request.HasBody || exchange.BufferedBody is not null);
        exchange.Rejection = RejectionReason.ValidationFailed;
        ProblemDetails.Write(exchange, status, type, title, detail, errors, close: !keepAlive);
        return StepResult.Answered(keepAlive);
    }
}

/// <summary>The request-body phase of <see cref="OpenApiRequestStep"/>: the body's media type must be one the operation takes, and a JSON body must match its schema.</summary>
public sealed class OpenApiBodyStep(OpenApiRequestStep request, long maxSize) : RequestBodyStep
{
    public override long MaxSize => maxSize;

    public override StepResult OnRequestBody(Exchange exchange, ref byte[] body)
    {
        ContractOperation operation = request.Find(exchange, out _, out _)!;
        string? type = exchange.Request.TryGetHeader("content-type"u8, out ReadOnlySpan<byte> value) ? Encoding.Latin1.GetString(value).Split(';')[0].Trim() : null;
        if (operation.MediaTypes.Length > 0 && (type is null || !operation.MediaTypes.Any(m => MediaTypeCovers(m, type))))
        {
            ValidationMetrics.Count(exchange, "request", valid: false);
            return OpenApiRequestStep.Refuse(exchange, 415, "unsupported-media-type", "The operation does not take this media type", $"It takes {string.Join(", ", operation.MediaTypes)}.", []);
        }

        if (operation.JsonBody is not { } schema || type is null || !JsonMediaType.IsJson(exchange.Request) || !JsonMediaType.IsUnencoded(exchange.Request))
        {
            ValidationMetrics.Count(exchange, "request", valid: true);
            return StepResult.Continue;
        }

        List<ValidationError> errors = schema.ValidateJson(body);
        ValidationMetrics.Count(exchange, "request", errors.Count == 0);
        return errors.Count == 0
            ? StepResult.Continue
            : OpenApiRequestStep.Refuse(exchange, 400, "validation-failed", "The request does not match the API description", $"{errors.Count} error(s) against {request.Contract.Source}", [.. errors.Select(e => ("/body" + e.Pointer, e.Message))]);
    }

    /// <summary>"application/json" covers itself; "application/*" and "*/*" cover more (OpenAPI media type ranges).</summary>
    private static bool MediaTypeCovers(string range, string type) =>
        range == "*/*" || range.Equals(type, StringComparison.OrdinalIgnoreCase)
        || (range.EndsWith("/*", StringComparison.Ordinal) && type.StartsWith(range[..^1], StringComparison.OrdinalIgnoreCase));
}
