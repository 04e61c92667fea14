using HyperGate.Transforms.Json;
using HyperGate.Validation;

namespace HyperGate.Configuration;

/// <summary>
/// <c>validate = { schema, response_schema, response, max_size }</c> (or <c>openapi</c>): the schemas are read and built
/// at load, relative to the config file, so a broken one is a <c>check</c> error.
/// </summary>
public sealed record ValidateConfig(JsonSchemaValidator? Request, JsonSchemaValidator? Response, bool Strict, long MaxSize);

public static partial class ConfigLoader
{
    private static ValidateConfig? ReadValidate(ConfigReader route)
    {
        if (route.Table("validate") is not { } table)
        {
            return null;
        }

        JsonSchemaValidator? Schema(string key)
        {
            if (table.String(key) is not { } relative)
            {
                return null;
            }

            string path = Path.Combine(table.Directory, relative);
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                string why = e is FileNotFoundException or DirectoryNotFoundException ? "no such file" : e is UnauthorizedAccessException ? "permission denied" : "unreadable";
                table.Error(key, $"cannot read \"{relative}\": {why}", "paths are relative to the config file");
                return null;
            }

            JsonSchemaValidator? validator = JsonSchemaValidator.Load(text, relative, out string? error);
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

        if (!table.Has("schema") && !table.Has("response_schema"))
        {
            route.Error("validate", "names nothing to validate against", "write validate = { schema = \"schemas/order.json\" }");
        }

        var config = new ValidateConfig(request, response, strict, table.Size("max_size", JsonBodyConfig.DefaultMaxSize, 1, 64L * 1024 * 1024));
        table.RejectUnknownKeys();
        return config;
    }
}
