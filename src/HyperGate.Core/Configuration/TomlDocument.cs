using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace HyperGate.Configuration;

/// <summary>A TOML value with the place it was written, so that every config error can point at its line.</summary>
public abstract record TomlNode(SourceLocation Location);

public sealed record TomlScalar(SourceLocation Location, object Value) : TomlNode(Location);

public sealed record TomlList(SourceLocation Location, IReadOnlyList<TomlNode> Items) : TomlNode(Location);

public sealed record TomlTableNode(SourceLocation Location) : TomlNode(Location)
{
    /// <summary>Entries in file order: key, where the key was written, value.</summary>
    public List<(string Key, SourceLocation KeyLocation, TomlNode Value)> Entries { get; } = [];

    public TomlNode? this[string key] => Entries.FirstOrDefault(e => e.Key == key).Value;
}

/// <summary>
/// Reads TOML with Tomlyn's syntax parser (which keeps positions) into <see cref="TomlNode"/>s.
/// Syntax errors and duplicate keys are collected, not thrown.
/// </summary>
public static class TomlDocument
{
    public static TomlTableNode Parse(string text, string file, List<ConfigError> errors)
    {
        DocumentSyntax document = SyntaxParser.Parse(text, file, false);
        foreach (DiagnosticMessage diagnostic in document.Diagnostics)
        {
            errors.Add(new ConfigError(Locate(file, diagnostic.Span), $"TOML syntax: {diagnostic.Message}", "check the TOML syntax at this position"));
        }

        var root = new TomlTableNode(new SourceLocation(file, 1, 1));
        if (document.HasErrors)
        {
            return root;
        }

        foreach (KeyValueSyntax keyValue in document.KeyValues)
        {
            AddKeyValue(root, keyValue, file, errors);
        }

        foreach (TableSyntaxBase table in document.Tables)
        {
            if (table is TableArraySyntax)
            {
                errors.Add(new ConfigError(Locate(file, table.Span), "arrays of tables ([[...]]) are not used by this config", "use [section.name] tables"));
                continue;
            }

            TomlTableNode? target = Descend(root, KeyParts(table.Name!), Locate(file, table.Span), errors);
            if (target is null)
            {
                continue;
            }

            foreach (KeyValueSyntax keyValue in table.Items)
            {
                AddKeyValue(target, keyValue, file, errors);
            }
        }

        return root;
    }

    private static void AddKeyValue(TomlTableNode table, KeyValueSyntax keyValue, string file, List<ConfigError> errors)
    {
        List<string> parts = KeyParts(keyValue.Key!);
        SourceLocation location = Locate(file, keyValue.Key!.Span);
        TomlTableNode? target = Descend(table, parts[..^1], location, errors);
        if (target is null)
        {
            return;
        }

        string key = parts[^1];
        if (target[key] is not null)
        {
            errors.Add(new ConfigError(location, $"duplicate key \"{key}\"", "remove one of the two definitions"));
            return;
        }

        TomlNode? value = Convert(keyValue.Value!, file, errors);
        if (value is not null)
        {
            target.Entries.Add((key, location, value));
        }
    }

    private static TomlTableNode? Descend(TomlTableNode table, List<string> path, SourceLocation location, List<ConfigError> errors)
    {
        TomlTableNode current = table;
        foreach (string part in path)
        {
            switch (current[part])
            {
                case null:
                    var child = new TomlTableNode(location);
                    current.Entries.Add((part, location, child));
                    current = child;
                    break;
                case TomlTableNode existing:
                    current = existing;
                    break;
                default:
                    errors.Add(new ConfigError(location, $"\"{part}\" is a value, not a table", "rename one of them"));
                    return null;
            }
        }

        return current;
    }

    private static TomlNode? Convert(ValueSyntax value, string file, List<ConfigError> errors)
    {
        SourceLocation location = Locate(file, value.Span);
        switch (value)
        {
            case StringValueSyntax s:
                return new TomlScalar(location, s.Value ?? string.Empty);
            case IntegerValueSyntax i:
                return new TomlScalar(location, i.Value);
            case BooleanValueSyntax b:
                return new TomlScalar(location, b.Value);
            case FloatValueSyntax f:
                return new TomlScalar(location, f.Value);
            case DateTimeValueSyntax d:
                // Dates (API versions' sunsets): a local date or time is taken as UTC.
                return new TomlScalar(location, new DateTimeOffset(d.Value.DateTime.UtcDateTime, TimeSpan.Zero));
            case ArraySyntax array:
                var items = new List<TomlNode>();
                foreach (ArrayItemSyntax item in array.Items)
                {
                    if (Convert(item.Value!, file, errors) is { } converted)
                    {
                        items.Add(converted);
                    }
                }

                return new TomlList(location, items);
            case InlineTableSyntax inline:
                var table = new TomlTableNode(location);
                foreach (InlineTableItemSyntax item in inline.Items)
                {
                    AddKeyValue(table, item.KeyValue!, file, errors);
                }

                return table;
            default:
                errors.Add(new ConfigError(location, "this kind of value is not used by this config", "write a string, number, boolean, date, list or table"));
                return null;
        }
    }

    private static List<string> KeyParts(KeySyntax key)
    {
        var parts = new List<string> { KeyText(key.Key!) };
        foreach (DottedKeyItemSyntax dotted in key.DotKeys)
        {
            parts.Add(KeyText(dotted.Key!));
        }

        return parts;
    }

    private static string KeyText(BareKeyOrStringValueSyntax key) => key switch
    {
        BareKeySyntax bare => bare.Key!.Text!,
        StringValueSyntax quoted => quoted.Value!,
        _ => key.ToString() ?? string.Empty,
    };

    private static SourceLocation Locate(string file, SourceSpan span) => new(file, span.Start.Line + 1, span.Start.Column + 1);
}
