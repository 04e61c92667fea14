using HyperGate.Transforms.Json;
using HyperGate.Validation;

namespace HyperGate.Configuration;

/// <summary>
/// <c>validate = { schema, response_schema, response, max_size }</c> (or <c>openapi</c>): the schemas are read and built
/// at load, relative to the config file, so a broken one is a <c>check</c> error.
/// </summary>
public sealed record ValidateConfig(JsonSchemaValidator? Request, JsonSchemaValidator? Response, bool Strict, long MaxSize)
{
    /// <summary><c>openapi</c>: the API description requests must follow; null without one.</summary>
    public OpenApiContract? Contract { get; init; }

    /// <summary><c>base_path</c>: the part of the gateway's path the description's paths leave out.</summary>
    public string BasePath { get; init; } = string.Empty;
}

public static partial class ConfigLoader
{
    private static ValidateConfig? ReadValidate(ConfigReader route)
    {
        if (route.Table("validate") is not { } table)
        {
            return null;
        }

        byte[]? Read(string key, string relative)
        {
            try
            {
                return File.ReadAllBytes(Path.Combine(table.Directory, relative));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                string why = e is FileNotFoundException or DirectoryNotFoundException ? "no such file" : e is UnauthorizedAccessException ? "permission denied" : "unreadable";
                table.Error(key, $"cannot read \"{relative}\": {why}", "paths are relative to the config file");
                return null;
            }
        }

        JsonSchemaValidator? Schema(string key)
        {
            if (table.String(key) is not { } relative || Read(key, relative) is not { } content)
            {
                return null;
            }

            JsonSchemaValidator? validator = JsonSchemaValidator.Load(System.Text.Encoding.UTF8.GetString(content), relative, out string? error);
            if (validator is null)
            {
                table.Error(key, error!, "fix the schema (JSON Schema draft 2020-12)");
            }

            return validator;
        }

        JsonSchemaValidator? request = Schema("schema");
        JsonSchemaValidator? response = Schema("response_schema");
        bool strict = table.String("response", "log") switch
        {
            "log" => false,
            "strict" => true,
            var other => InvalidMode(other!),
        };

        bool InvalidMode(string other)
        {
            table.Error("response", $"\"{other}\" is not a choice", "use \"log\" (counted, the response goes out) or \"strict\" (502)");
            return false;
        }

        OpenApiContract? contract = null;
        if (table.String("openapi") is { } description && Read("openapi", description) is { } document)
        {
            contract = OpenApiContract.Load(document, description, out List<string> problems);
            foreach (string problem in problems.Take(10))
            {
                table.Error("openapi", problem, "fix the description (OpenAPI 3.0 or 3.1, JSON or YAML)");
            }
        }

        if (table.Has("openapi") && table.Has("schema"))
        {
            table.Error("schema", "cannot be combined with openapi, which gives each operation its schema", "keep one of them");
        }

        string basePath = table.String("base_path", string.Empty)!;
        if (basePath.Length > 0 && (!basePath.StartsWith('/') || basePath.EndsWith('/')))
        {
            table.Error("base_path", $"\"{basePath}\" must start with / and not end with it", "write base_path = \"/api\"");
        }

        if (!table.Has("schema") && !table.Has("response_schema") && !table.Has("openapi"))
        {
            route.Error("validate", "names nothing to validate against", "write validate = { schema = \"schemas/order.json\" } or { openapi = \"api.yaml\" }");
        }

        var config = new ValidateConfig(request, response, strict, table.Size("max_size", JsonBodyConfig.DefaultMaxSize, 1, 64L * 1024 * 1024)) { Contract = contract, BasePath = basePath };
        table.RejectUnknownKeys();
        return config;
    }
}
