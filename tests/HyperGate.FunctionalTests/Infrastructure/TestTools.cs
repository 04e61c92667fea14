namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>
/// The programs the functional tests run, found by the rule build.sh uses to decide what to install: an
/// environment variable naming the program wins, else the first of its names on PATH.
/// </summary>
public static class TestTools
{
    public static string RedisServer => Find("HYPERGATE_REDIS_SERVER", ["redis-server"], "redis-server");

    public static string Chromium => Find("HYPERGATE_CHROMIUM", ["chromium", "chromium-browser"], "chromium");

    public static string Curl => Find("HYPERGATE_CURL", ["curl"], "curl");

    public static string Nghttp => Find("HYPERGATE_NGHTTP", ["nghttp"], "nghttp2-client");

    /// <summary>Runs a client program to its end (bounded); returns its exit code, standard output and standard error.</summary>
    public static async Task<(int ExitCode, string Output, string Errors)> RunAsync(string program, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo(program, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using System.Diagnostics.Process process = System.Diagnostics.Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output, await errors);
    }

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
