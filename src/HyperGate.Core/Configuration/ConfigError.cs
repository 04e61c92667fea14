namespace HyperGate.Configuration;

/// <summary>A position in a config file, 1-based.</summary>
public readonly record struct SourceLocation(string File, int Line, int Column)
{
    /// <summary>The file as a whole (it could not be read, so no line is meant): written as its path alone.</summary>
    public static SourceLocation WholeFile(string file) => new(file, 0, 0);

    public override string ToString() => Line == 0 ? File : $"{File}:{Line}:{Column}";
}

/// <summary>One thing wrong with a config file: where, what, and how to fix it.</summary>
public sealed record ConfigError(SourceLocation Location, string Message, string? Hint = null)
{
    public override string ToString() => Hint is null ? $"{Location}: {Message}" : $"{Location}: {Message} (hint: {Hint})";
}

/// <summary>Thrown when a config file is refused; carries every error found, not just the first.</summary>
public sealed class ConfigException(IReadOnlyList<ConfigError> errors)
    : Exception($"the config has {errors.Count} error(s):{Environment.NewLine}{string.Join(Environment.NewLine, errors)}")
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
