using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>
/// A real redis-server on 127.0.0.1 and a free port, without persistence. It can be stopped and started again
/// on the same port to play an outage. `./build.sh test` installs redis-server on a fresh machine.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private Process? _process;

    private RedisServer(int port) => Port = port;

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        var server = new RedisServer(port);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the server and returns once it logs that it accepts connections.</summary>
    public async Task StartAgainAsync()
    {
        var start = new ProcessStartInfo(TestTools.RedisServer, ["--bind", "127.0.0.1", "--port", Port.ToString(), "--save", "", "--appendonly", "no", "--protected-mode", "yes"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await _process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Contains("Ready to accept connections", StringComparison.Ordinal))
            {
                // Keep draining its output so the server never blocks on a full pipe.
                _ = _process.StandardOutput.ReadToEndAsync();
                return;
            }
        }

        throw new InvalidOperationException($"redis-server exited: {await _process.StandardError.ReadToEndAsync()}");
    }

    /// <summary>Kills the server, as a crash would, and waits until it is gone.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
