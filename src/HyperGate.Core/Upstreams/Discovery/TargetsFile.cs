using System.Text.Json;
using HyperGate.Configuration;

namespace HyperGate.Upstreams.Discovery;

/// <summary>
/// A <c>targets_file</c>: the targets of an upstream kept outside the config, changed without a reload. JSON
/// (<c>["10.0.0.1:80", { "address": "10.0.0.2:80", "weight": 3 }]</c>, or that list under <c>"targets"</c>) or
/// TOML (<c>targets = [...]</c>), with the same target forms as the config's <c>targets</c>.
/// </summary>
public static class TargetsFile
{
    /// <summary>Reads the file; throws <see cref="ConfigException"/> with every error when it cannot be used.</summary>
    public static IReadOnlyList<TargetConfig> Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException([new ConfigError(new SourceLocation(path, 1, 1), $"cannot read the targets file: {e.Message}", "check targets_file")]);
        }

        return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? ReadJson(text, path) : ConfigLoader.ParseTargets(text, path);
    }

    private static List<TargetConfig> ReadJson(string text, string path)
    {
        var errors = new List<ConfigError>();
        var targets = new List<TargetConfig>();
        try
        {
            using JsonDocument document = JsonDocument.Parse(text);
            JsonElement list = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("targets", out JsonElement inner)
                ? inner
                : document.RootElement;
            if (list.ValueKind != JsonValueKind.Array)
            {
                throw new ConfigException([new ConfigError(new SourceLocation(path, 1, 1), "the targets file must hold a list of targets", "write [\"10.0.0.1:80\", { \"address\": \"10.0.0.2:80\", \"weight\": 3 }]")]);
            }

            int index = 0;
            foreach (JsonElement item in list.EnumerateArray())
            {
                index++;
                var at = new SourceLocation(path, 1, index);
                (string? address, int weight) = item.ValueKind switch
                {
                    JsonValueKind.String => (item.GetString(), 1),
                    JsonValueKind.Object => (
                        item.TryGetProperty("address", out JsonElement a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null,
                        item.TryGetProperty("weight", out JsonElement w) && w.TryGetInt32(out int value) ? value : 1),
                    _ => (null, 1),
                };
                if (address is null || !Destination.TryParseEndPoint(address, out _) || weight is < 1 or > 1000)
                {
                    errors.Add(new ConfigError(at, $"target {index} is not \"host:port\" or {{ \"address\": \"host:port\", \"weight\": 1..1000 }}", "fix or remove it"));
                    continue;
                }

                targets.Add(new TargetConfig(address, weight, at));
            }
        }
        catch (JsonException e)
        {
            errors.Add(new ConfigError(new SourceLocation(path, (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1), $"invalid JSON: {e.Message}", "fix the syntax"));
        }

        return errors.Count > 0 ? throw new ConfigException(errors) : targets;
    }
}
