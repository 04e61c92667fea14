namespace HyperGate.Configuration;

/// <summary>
/// Reads typed values out of one TOML table, recording an error (with its position and a hint) for every
/// wrong type, bad value or unknown key instead of stopping at the first.
/// </summary>
internal sealed class ConfigReader
{
    private readonly TomlTableNode _table;
    private readonly string _section;
    private readonly List<ConfigError> _errors;
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);

    public ConfigReader(TomlTableNode table, string section, List<ConfigError> errors)
    {
        _table = table;
        _section = section;
        _errors = errors;
    }

    public SourceLocation Location => _table.Location;

    /// <summary>The directory of the config file this table is in: paths in it are relative to it.</summary>
    public string Directory => Path.GetDirectoryName(Path.GetFullPath(_table.Location.File)) ?? ".";

    public bool Has(string key)
    {
        _known.Add(key);
        return _table[key] is not null;
    }

    public SourceLocation LocationOf(string key) => _table[key]?.Location ?? _table.Location;

    public void Error(string key, string message, string? hint = null) => ErrorAt(LocationOf(key), key, message, hint);

    /// <summary>An error about one item of a key's value, such as one entry of a list.</summary>
    public void ErrorAt(SourceLocation location, string key, string message, string? hint = null) =>
        _errors.Add(new ConfigError(location, $"{Qualified(key)}: {message}", hint));

    public string? String(string key, string? fallback = null) =>
        (string?)Scalar(key, v => v is string, "a string", "quote the value") ?? fallback;

    /// <summary>A string that may be <c>${ENV:NAME}</c>, read from the environment; an unset variable is an error.</summary>
    public string? Secret(string key)
    {
        string? text = String(key);
        if (text is null)
        {
            return null;
        }

        string? value = Security.Secrets.Resolve(text);
        if (value is null)
        {
            Error(key, $"the environment variable in \"{text}\" is not set", "set it before starting, or write the value itself");
        }

        return value;
    }

    public bool Bool(string key, bool fallback) =>
        (bool?)Scalar(key, v => v is bool, "true or false", "write true or false without quotes") ?? fallback;

    /// <summary>A number from 0 to 1 (an integer 0 or 1 is accepted too).</summary>
    public double Fraction(string key, double fallback) => Number(key, fallback, 0, 1);

    public double Number(string key, double fallback, double min, double max)
    {
        object? value = Scalar(key, v => v is double or long, $"a number from {min} to {max}", "write a decimal such as 0.1");
        double? number = value switch
        {
            double d => d,
            long l => l,
            _ => null,
        };
        if (number is null)
        {
            return fallback;
        }

        if (number < min || number > max || double.IsNaN(number.Value))
        {
            Error(key, $"{number} is out of range", $"use a number from {min} to {max}");
            return fallback;
        }

        return number.Value;
    }

    public long Integer(string key, long fallback, long min, long max)
    {
        long? value = (long?)Scalar(key, v => v is long, "an integer", "write a whole number without quotes");
        if (value is null)
        {
            return fallback;
        }

        if (value < min || value > max)
        {
            Error(key, $"{value} is out of range", $"use a value from {min} to {max}");
            return fallback;
        }

        return value.Value;
    }

    public TimeSpan Duration(string key, TimeSpan fallback)
    {
        string? text = (string?)Scalar(key, v => v is string, "a duration string", "write a duration such as \"250ms\", \"10s\" or \"5m\"");
        if (text is null)
        {
            return fallback;
        }

        if (!Units.TryParseDuration(text, out TimeSpan duration) || duration <= TimeSpan.Zero)
        {
            Error(key, $"\"{text}\" is not a duration", "write a positive whole number with ms, s, m or h, such as \"10s\"");
            return fallback;
        }

        return duration;
    }

    public long Size(string key, long fallback, long min, long max)
    {
        _known.Add(key);
        TomlNode? node = _table[key];
        long? bytes = node switch
        {
            null => null,
            TomlScalar { Value: long number } => number,
            TomlScalar { Value: string text } when Units.TryParseSize(text, out long parsed) => parsed,
            _ => Invalid(),
        };

        long? Invalid()
        {
            Error(key, "is not a size", "write a number of bytes or a string such as \"64KB\", \"10MB\" or \"1GB\"");
            return null;
        }

        if (bytes is null)
        {
            return fallback;
        }

        if (bytes < min || bytes > max)
        {
            Error(key, $"{bytes} bytes is out of range", $"use a size from {min} to {max} bytes");
            return fallback;
        }

        return bytes.Value;
    }

    /// <summary>A list of strings; a single string is accepted as a list of one.</summary>
    public List<(string Value, SourceLocation Location)> StringList(string key)
    {
        _known.Add(key);
        var result = new List<(string, SourceLocation)>();
        switch (_table[key])
        {
            case null:
                break;
            case TomlScalar { Value: string single } scalar:
                result.Add((single, scalar.Location));
                break;
            case TomlList list:
                foreach (TomlNode item in list.Items)
                {
                    if (item is TomlScalar { Value: string value })
                    {
                        result.Add((value, item.Location));
                    }
                    else
                    {
                        _errors.Add(new ConfigError(item.Location, $"{Qualified(key)}: every item must be a string", "quote each item"));
                    }
                }

                break;
            default:
                Error(key, "must be a list of strings", "write [\"a\", \"b\"]");
                break;
        }

        return result;
    }

    /// <summary>A list of integers (statuses, ranges).</summary>
    public List<(long Value, SourceLocation Location)> IntegerList(string key)
    {
        var result = new List<(long, SourceLocation)>();
        foreach (TomlNode item in Items(key))
        {
            if (item is TomlScalar { Value: long value })
            {
                result.Add((value, item.Location));
            }
            else
            {
                _errors.Add(new ConfigError(item.Location, $"{Qualified(key)}: every item must be an integer", "write numbers without quotes"));
            }
        }

        return result;
    }

    /// <summary>The items of a list of mixed kinds (strings and inline tables); a single value is a list of one.</summary>
    public IReadOnlyList<TomlNode> Items(string key)
    {
        _known.Add(key);
        return _table[key] switch
        {
            null => [],
            TomlList list => list.Items,
            TomlNode single => [single],
        };
    }

    /// <summary>
    /// A reader for each table among the items of <paramref name="key"/> (one table, or a list of them), with its
    /// location; any other item is an error with <paramref name="hint"/>.
    /// </summary>
    public IEnumerable<(ConfigReader Entry, SourceLocation Location)> ItemTables(string key, string hint)
    {
        foreach (TomlNode item in Items(key))
        {
            if (item is TomlTableNode table)
            {
                yield return (ItemTable(key, table), item.Location);
            }
            else
            {
                ErrorAt(item.Location, key, "each entry must be a table", hint);
            }
        }
    }

    /// <summary>A reader for an inline table found among the items of <paramref name="key"/>.</summary>
    public ConfigReader ItemTable(string key, TomlTableNode table) => new(table, Qualified(key), _errors);

    /// <summary>For keys that take a name or a table: whether the value is a table.</summary>
    public bool IsTable(string key)
    {
        _known.Add(key);
        return _table[key] is TomlTableNode;
    }

    public ConfigReader? Table(string key)
    {
        _known.Add(key);
        switch (_table[key])
        {
            case null:
                return null;
            case TomlTableNode table:
                return new ConfigReader(table, Qualified(key), _errors);
            default:
                Error(key, "must be a table", $"write [{Qualified(key)}] or an inline table {{ ... }}");
                return null;
        }
    }

    /// <summary>The entries of a table whose keys are names chosen by the user (upstreams, routes).</summary>
    public IEnumerable<(string Name, ConfigReader Reader)> NamedTables()
    {
        foreach ((string key, SourceLocation keyLocation, TomlNode value) in _table.Entries)
        {
            _known.Add(key);
            if (value is TomlTableNode table)
            {
                yield return (key, new ConfigReader(table, Qualified(key), _errors));
            }
            else
            {
                _errors.Add(new ConfigError(keyLocation, $"{Qualified(key)}: must be a table", $"write [{Qualified(key)}] followed by its keys"));
            }
        }
    }

    /// <summary>A table of name = "value" or name = ["values"] (claims); each value as a list.</summary>
    public List<KeyValuePair<string, string[]>> StringListMap(string key)
    {
        var map = new List<KeyValuePair<string, string[]>>();
        ConfigReader? table = Table(key);
        foreach ((string name, TomlNode value) in table?.Entries() ?? [])
        {
            string[]? values = value switch
            {
                TomlScalar { Value: string single } => [single],
                TomlList list when list.Items.All(i => i is TomlScalar { Value: string }) => [.. list.Items.Select(i => (string)((TomlScalar)i).Value)],
                _ => null,
            };
            if (values is null)
            {
                table!.Error(name, "must be a string or a list of strings", "write name = \"value\" or name = [\"a\", \"b\"]");
                continue;
            }

            map.Add(new(name, values));
        }

        return map;
    }

    /// <summary>The raw key/value entries, for free-form maps such as route headers.</summary>
    public IEnumerable<(string Key, TomlNode Value)> Entries()
    {
        foreach ((string key, _, TomlNode value) in _table.Entries)
        {
            _known.Add(key);
            yield return (key, value);
        }
    }

    /// <summary>Reports every key that no reader asked for: unknown keys are errors, not silently ignored.</summary>
    public void RejectUnknownKeys()
    {
        foreach ((string key, SourceLocation location, _) in _table.Entries)
        {
            if (!_known.Contains(key))
            {
                string? suggestion = _known.OrderBy(k => EditDistance(k, key)).FirstOrDefault(k => EditDistance(k, key) <= 3);
                string hint = suggestion is not null
                    ? $"did you mean \"{suggestion}\"?"
                    : $"known keys here: {string.Join(", ", _known.Order())}";
                _errors.Add(new ConfigError(location, $"unknown key \"{Qualified(key)}\"", hint));
            }
        }
    }

    private string Qualified(string key) => _section.Length == 0 ? key : $"{_section}.{key}";

    /// <summary>A scalar's value as it is (string, long, double, bool or DateTimeOffset), for keys that take several kinds; null when absent or not a scalar.</summary>
    public object? Value(string key)
    {
        _known.Add(key);
        return _table[key] is TomlScalar scalar ? scalar.Value : null;
    }

    private object? Scalar(string key, Func<object, bool> accepts, string expected, string hint)
    {
        _known.Add(key);
        switch (_table[key])
        {
            case null:
                return null;
            case TomlScalar scalar when accepts(scalar.Value):
                return scalar.Value;
            default:
                Error(key, $"must be {expected}", hint);
                return null;
        }
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
