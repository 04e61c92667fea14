using System.Diagnostics;
using System.Net;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>OpenSSL's own TLS client (<c>openssl s_client</c>), for what .NET's client cannot be asked to do: offer chosen TLS 1.2 suites, an old protocol, a saved session.</summary>
public static class OpenSslClient
{
    /// <summary>Runs it against <paramref name="endPoint"/> with <paramref name="input"/> on its standard input; returns its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(EndPoint endPoint, string input, params string[] arguments)
    {
        var start = new ProcessStartInfo("openssl", ["s_client", "-connect", endPoint.ToString()!, .. arguments])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process openssl = Process.Start(start)!;
        await openssl.StandardInput.WriteAsync(input);
        openssl.StandardInput.Close();
        Task<string> output = openssl.StandardOutput.ReadToEndAsync();
        string errors = await openssl.StandardError.ReadToEndAsync();
        await openssl.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (openssl.ExitCode, await output + errors);
    }
}
