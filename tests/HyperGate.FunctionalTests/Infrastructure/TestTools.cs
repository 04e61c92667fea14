namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>
/// The programs the functional tests run, found by the rule build.sh uses to decide what to install: an
/// environment variable naming the program wins, else the first of its names on PATH.
/// </summary>
public static class TestTools
{
    public static string RedisServer => Find("HYPERGATE_REDIS_SERVER", ["redis-server"], "redis-server");

    public static string Chromium => Find("HYPERGATE_CHROMIUM", ["chromium", "chromium-browser"], "chromium");

    private static string Find(string variable, string[] names, string package)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } configured)
        {
            return configured;
        }

        string[] directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        return names.SelectMany(name => directories.Select(directory => Path.Combine(directory, name))).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                $"{names[0]} is not on PATH (nor named by {variable}); ./build.sh test installs it (apt-get install {package})");
    }
}
