namespace HyperGate.Security;

/// <summary>
/// Config values of the form <c>${ENV:NAME}</c> are read from the environment, so a config can be committed
/// without its secrets.
/// </summary>
public static class Secrets
{
    /// <summary>The value itself, or the environment variable it names; null when that variable is not set.</summary>
    public static string? Resolve(string value, Func<string, string?>? environment = null)
    {
        if (!value.StartsWith("${ENV:", StringComparison.Ordinal) || !value.EndsWith('}'))
        {
            return value;
        }

        string name = value[6..^1];
        return (environment ?? Environment.GetEnvironmentVariable)(name);
    }
}
