using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>The hypergate binary itself, run as a process.</summary>
public class CommandLineTests
{
    private static readonly string Binary = Path.Combine(AppContext.BaseDirectory, "hypergate");

    private static string ConfDirectory => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../conf"));

    [Fact]
    public async Task Check_ValidConfig_ExitsZeroAndSaysOk()
    {
        (int exitCode, string output, _) = await RunAsync("check", "--config", Path.Combine(ConfDirectory, "hypergate.toml"));
        Assert.Equal(0, exitCode);
        Assert.Contains(": OK", output);
    }

    [Fact]
    public async Task Check_InvalidConfig_ExitsOneAndListsEveryError()
    {
        string path = Path.Combine(ConfDirectory, "invalid", "bad-values.toml");
        (int exitCode, _, string errors) = await RunAsync("check", "--config", path);
        Assert.Equal(1, exitCode);
        string[] lines = errors.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(7, lines.Count(line => line.StartsWith($"{path}:", StringComparison.Ordinal) && line.Contains("(hint: ")));
    }

    [Fact]
    public async Task Check_ValidConfig_CountsRoutesAndUpstreamsInTheirNumber()
    {
        string config = await WriteConfigAsync($"""
            [server]
            listen = ["127.0.0.1:{TestPorts.Free()}"]
            [upstreams.backend]
            targets = ["127.0.0.1:9"]
            [routes.one]
            path = "/one"
            upstream = "backend"
            """);
        try
        {
            (int exitCode, string output, _) = await RunAsync("check", "--config", config);
            Assert.Equal(0, exitCode);
            Assert.Equal($"{config}: OK (1 route, 1 upstream)", output.Trim());
        }
        finally
        {
            File.Delete(config);
        }
    }

    [Fact]
    public async Task Run_ListenAddressInUse_IsOneLineNamingAddressConfigLineAndCause_ExitNonZero()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        string config = await WriteConfigAsync($"""
            [server]
            listen = ["127.0.0.1:{port}"]
            [routes.hello]
            path = "/hello"
            respond = {"{"} status = 200 {"}"}
            """);
        try
        {
            (int exitCode, string output, string errors) = await RunAsync("--config", config);

            Assert.NotEqual(0, exitCode);
            string line = Assert.Single(errors.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"{config}:2:", line);
            Assert.Contains($"cannot listen on 127.0.0.1:{port}: the address is already in use", line);
            Assert.DoesNotContain("Exception", output + errors);
        }
        finally
        {
            File.Delete(config);
        }
    }

    [Fact]
    public async Task Run_MissingConfigFile_NamesTheFileWithoutALinePosition_ExitNonZero()
    {
        string config = Path.Combine(Path.GetTempPath(), $"hypergate-missing-{Guid.NewGuid():N}.toml");

        (int exitCode, _, string errors) = await RunAsync("--config", config);

        Assert.NotEqual(0, exitCode);
        string[] lines = errors.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"{config}: cannot read the config file: no such file (hint: check the --config path (relative paths start from the current directory))", lines[0]);
        Assert.Equal($"{config}: 1 error; the gateway was not started.", lines[1]);
    }

    [Fact]
    public async Task Explain_TakesABarePathAsWellAsAUrl()
    {
        string config = Path.Combine(ConfDirectory, "hypergate.toml");

        (int pathExit, string pathOutput, _) = await RunAsync("explain", "--config", config, "GET", "/api/users/7");
        (int urlExit, string urlOutput, _) = await RunAsync("explain", "--config", config, "GET", "http://localhost/api/users/7");

        Assert.Equal(0, pathExit);
        Assert.Equal(0, urlExit);
        Assert.Contains("outcome: route ", pathOutput);
        Assert.Equal(urlOutput, pathOutput);
    }

    [Fact]
    public async Task Version_PrintsTheVersion()
    {
        (int exitCode, string output, _) = await RunAsync("--version");
        Assert.Equal(0, exitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", output.Trim());
    }

    [Fact]
    public async Task Sigterm_FinishesTheRequestInFlight_ThenExitsZero()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        int port = TestPorts.Free();
        string config = Path.Combine(Path.GetTempPath(), $"hypergate-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(config, $"""
            [server]
            listen = ["127.0.0.1:{port}"]
            [upstreams.backend]
            targets = ["{upstream.Address}"]
            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            """);
        using Process gateway = Start("--config", config);
        try
        {
            // The console logger writes from its own queue, so the listener line may follow the banner.
            string listening = await ReadUntilAsync(gateway, "listening on");
            Assert.Contains($"listening on http://127.0.0.1:{port}", listening);
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", listening);

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            Task<string> inFlight = client.GetStringAsync("/slow");
            await upstream.SlowEntered.Task.WaitAsync(TimeSpan.FromSeconds(15));

            await SendSignalAsync(gateway, "-TERM");

            Assert.Contains("stopping: no new connections; open connections: 1,", await ReadUntilAsync(gateway, "stopping"));
            upstream.SlowGate.SetResult();
            Assert.Equal("done", await inFlight);
            await ReadUntilAsync(gateway, "stopped");
            await gateway.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, gateway.ExitCode);
        }
        finally
        {
            StopAndRemoveConfig(gateway, config);
        }
    }

    [Fact]
    public async Task TheBinary_LimitsTls12ToForwardSecretAeadSuites()
    {
        int port = TestPorts.Free();
        string config = Path.Combine(Path.GetTempPath(), $"hypergate-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(config, $$"""
            [server]
            listen_tls = ["127.0.0.1:{{port}}"]
            [tls]
            certificates = [{ self_signed = ["api.test"] }]
            [routes.hello]
            path = "/hello"
            respond = { status = 200, body = "hello" }
            """);
        using Process gateway = Start("--config", config);
        try
        {
            await ReadUntilAsync(gateway, "listening on");
            var endPoint = new IPEndPoint(IPAddress.Loopback, port);

            // The list is OpenSSL's process default (set before anything starts OpenSSL), not a per-handshake list,
            // so that the platform keeps one context per certificate (sessions resume, handshakes cost less).
            foreach ((string offered, bool accepted) in ((string, bool)[])[
                ("ECDHE-ECDSA-AES128-GCM-SHA256", true),
                ("ECDHE-ECDSA-AES256-GCM-SHA384", true),
                ("ECDHE-ECDSA-CHACHA20-POLY1305", true),
                ("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384", false), // CBC: RFC 9325 §4.2 asks for AEAD only
                ("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA", false)])
            {
                (int exitCode, string output) = await OpenSslClient.RunAsync(endPoint, "", "-tls1_2", "-cipher", offered, "-servername", "api.test");
                Assert.True(accepted == (exitCode == 0), $"{offered}: {output}");
                Assert.Contains(accepted ? $"Cipher is {offered}" : "alert handshake failure", output);
            }
        }
        finally
        {
            StopAndRemoveConfig(gateway, config);
        }
    }

    [Fact]
    public async Task Sighup_ReloadsTheConfigFile()
    {
        int port = TestPorts.Free();
        string config = Path.Combine(Path.GetTempPath(), $"hypergate-{Guid.NewGuid():N}.toml");
        string initial = $"""
            [server]
            listen = ["127.0.0.1:{port}"]
            watch_config = false
            [routes.first]
            path = "/first"
            respond = {"{"} status = 200 {"}"}
            """;
        await File.WriteAllTextAsync(config, initial);

        // A process started with SIGHUP ignored (under nohup, as some CI runners are) passes the ignore on, and the
        // runtime keeps an inherited ignore; env resets SIGHUP to its default so the gateway can take it.
        using Process gateway = StartWith("env", ["--default-signal=HUP", Binary, "--config", config]);
        try
        {
            await ReadUntilAsync(gateway, "listening on");
            await File.WriteAllTextAsync(config, initial + "\n[routes.second]\npath = \"/second\"\nrespond = { status = 202 }\n");
            await SendSignalAsync(gateway, "-HUP");

            Assert.Contains("config reloaded (SIGHUP)", await ReadUntilAsync(gateway, "config reloaded"));
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            Assert.Equal(HttpStatusCode.Accepted, (await client.GetAsync("/second")).StatusCode);

            await SendSignalAsync(gateway, "-HUP");
            Assert.Contains("the file is unchanged", await ReadUntilAsync(gateway, "config reload"));
        }
        finally
        {
            StopAndRemoveConfig(gateway, config);
        }
    }

    [Fact]
    public async Task StatsOnExit_CountFromSigusr1_AndAreReportedOnExit()
    {
        int port = TestPorts.Free();
        string config = Path.Combine(Path.GetTempPath(), $"hypergate-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(config, $"""
            [server]
            listen = ["127.0.0.1:{port}"]
            [routes.hello]
            path = "/hello"
            respond = {"{"} status = 200 {"}"}
            """);
        using Process gateway = Start("--config", config, "--stats-on-exit");
        try
        {
            await ReadUntilAsync(gateway, "listening on");
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            for (int i = 0; i < 3; i++)
            {
                await client.GetAsync("/hello");
            }

            // Handled, not the signal's default (which ends the process); the count starts at the three served.
            await SendSignalAsync(gateway, "-USR1");

            Assert.Contains("counting from request 3", await ReadUntilAsync(gateway, "stats: counting from"));
            for (int i = 0; i < 2; i++)
            {
                await client.GetAsync("/hello");
            }

            await SendSignalAsync(gateway, "-TERM");

            Assert.Contains("requests=5 measured_requests=2 ", await ReadUntilAsync(gateway, "stats: requests="));
            await gateway.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, gateway.ExitCode);
        }
        finally
        {
            StopAndRemoveConfig(gateway, config);
        }
    }

    private static async Task<string> WriteConfigAsync(string toml)
    {
        string config = Path.Combine(Path.GetTempPath(), $"hypergate-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(config, toml);
        return config;
    }

    /// <summary>After a test, pass or fail: a failed assertion must not leave the gateway running.</summary>
    private static void StopAndRemoveConfig(Process gateway, string config)
    {
        if (!gateway.HasExited)
        {
            gateway.Kill();
        }

        File.Delete(config);
    }

    private static async Task SendSignalAsync(Process gateway, string signal)
    {
        using Process kill = Process.Start("kill", [signal, gateway.Id.ToString()]);
        await kill.WaitForExitAsync();
    }

    /// <summary>Reads the gateway's output until a line containing <paramref name="text"/>, and returns it.</summary>
    private static async Task<string> ReadUntilAsync(Process gateway, string text)
    {
        var seen = new List<string>();
        string? line;
        do
        {
            try
            {
                line = await gateway.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"no \"{text}\" within 30 s; the gateway printed:\n{string.Join("\n", seen)}");
            }

            seen.Add(line ?? "");
        }
        while (line is not null && !line.Contains(text, StringComparison.Ordinal));

        return line ?? throw new InvalidOperationException($"the gateway exited before printing \"{text}\":\n{string.Join("\n", seen)}");
    }

    private static Process Start(params string[] args) => StartWith(Binary, args);

    private static Process StartWith(string program, string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }

    private static async Task<(int ExitCode, string Output, string Errors)> RunAsync(params string[] args)
    {
        using Process process = Start(args);
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (process.ExitCode, await output, await errors);
    }
}
