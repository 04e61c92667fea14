using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using HyperGate.Configuration;

namespace HyperGate.Admin;

/// <summary>The running config as JSON, as written in its file, with every secret replaced by "[redacted]".</summary>
public static partial class ConfigRedactor
{
    public const string Redacted = "[redacted]";

    /// <summary>Keys whose values are credentials or derived from them (hashes still allow offline guessing).</summary>
    private static readonly HashSet<string> SecretKeys = new(StringComparer.Ordinal) { "secret", "api_keys", "password_hash", "password" };

    public static JsonObject ToJson(TomlTableNode table)
    {
        var json = new JsonObject();
        foreach ((string key, _, TomlNode value) in table.Entries)
        {
            json[key] = SecretKeys.Contains(key) ? Redacted : ToJson(key, value);
        }

        return json;
    }

    private static JsonNode? ToJson(string key, TomlNode node) => node switch
    {
        TomlTableNode table => ToJson(table),
        TomlList list => new JsonArray([.. list.Items.Select(item => ToJson(key, item))]),
        TomlScalar { Value: string text } when key == "redis" => RedisPassword().Replace(text, $"password={Redacted}"),
        TomlScalar { Value: string text } => text,
        TomlScalar { Value: long number } => number,
        TomlScalar { Value: double number } => number,
        TomlScalar { Value: bool flag } => flag,
        TomlScalar scalar => scalar.Value.ToString(),
        _ => null,
    };

    [GeneratedRegex("password=[^,]*", RegexOptions.IgnoreCase)]
    private static partial Regex RedisPassword();
}
