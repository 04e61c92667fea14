using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Hosting;

namespace HyperGate.FunctionalTests;

public sealed class ReloadUnderLoadTests : IDisposable
{
    private const int Reloads = 50;
    private const int InvalidFiles = 5;
    private const int Clients = 4;

    private readonly string _directory = Directory.CreateTempSubdirectory("hypergate-reload-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>
    /// Generation <paramref name="generation"/> of the config: the stable route and the WebSocket route never
    /// change; around them routes and an upstream are added, changed and removed.
    /// </summary>
    private static string Config(int generation, string stable, string other) => TestGateway.WithServer($"""
        [upstreams.stable]
        targets = ["{stable}"]

        {(generation % 2 == 0 ? $"[upstreams.temporary]\ntargets = [\"{other}\"]\n" : "")}

        [routes.stable]
        path_prefix = "/stable"
        upstream = "stable"

        [routes.ws]
        path = "/ws"
        upstream = "stable"

        [routes.generation{generation % 7}]
        path = "/generation"
        respond = {"{"} status = 200, body = "{generation}" {"}"}

        {(generation % 2 == 0 ? "[routes.temporary]\npath_prefix = \"/temporary\"\nupstream = \"temporary\"\n" : "")}
        """);

    [Fact]
    public async Task FiftyReloadsAndFiveInvalidFiles_UnderTraffic_DropNothingAndKeepTheWebSocket()
    {
        await using TestUpstream stable = await TestUpstream.StartAsync("stable");
        await using TestUpstream other = await TestUpstream.StartAsync("other");
        string path = Path.Combine(_directory, "hypergate.toml");
        await File.WriteAllTextAsync(path, Config(0, stable.Address, other.Address));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);

        using var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await socket.ConnectAsync(new Uri($"ws://{gateway.EndPoint}/ws"), timeout.Token);

        using var stop = new CancellationTokenSource();
        int succeeded = 0;
        var failures = new ConcurrentQueue<string>();
        Task[] traffic = [.. Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            using HttpClient http = gateway.CreateClient();
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    HttpResponseMessage response = await http.GetAsync($"/stable/{client}", timeout.Token);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref succeeded);
                    }
                    else
                    {
                        failures.Enqueue($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                    }
                }
                catch (Exception e) when (!timeout.IsCancellationRequested)
                {
                    failures.Enqueue(e.Message);
                }
            }
        }))];

        using HttpClient probe = gateway.CreateClient();
        string runningVersion = gateway.Host.Runtime.Snapshot.Config.Version;
        for (int generation = 1; generation <= Reloads; generation++)
        {
            if (generation % (Reloads / InvalidFiles) == 0)
            {
                // An invalid file (a route to an upstream that does not exist) changes nothing.
                await File.WriteAllTextAsync(path, Config(generation, stable.Address, other.Address) + "\n[routes.bad]\npath = \"/bad\"\nupstream = \"missing\"\n");
                ReloadResult refused = await gateway.Host.Reloader.ReloadAsync("test");
                Assert.False(refused.Applied);
                Assert.NotEmpty(refused.Errors);
                Assert.Equal(runningVersion, gateway.Host.Runtime.Snapshot.Config.Version);
            }

            await File.WriteAllTextAsync(path, Config(generation, stable.Address, other.Address));
            ReloadResult result = await gateway.Host.Reloader.ReloadAsync("test");
            Assert.True(result.Applied, string.Join("\n", result.Errors));
            runningVersion = gateway.Host.Runtime.Snapshot.Config.Version;

            // The new generation serves at once: its own direct response, and the temporary upstream only when present.
            Assert.Equal(generation.ToString(), await probe.GetStringAsync("/generation"));
            Assert.Equal(generation % 2 == 0 ? HttpStatusCode.OK : HttpStatusCode.NotFound, (await probe.GetAsync("/temporary/x")).StatusCode);
        }

        // Enough traffic ran across the reloads to mean something before it stops.
        while (Volatile.Read(ref succeeded) < Reloads * Clients)
        {
            await probe.GetAsync("/stable/probe", timeout.Token);
        }

        stop.Cancel();
        await Task.WhenAll(traffic);
        Assert.Empty(failures);

        var buffer = new byte[64];
        await socket.SendAsync("still here"u8.ToArray(), WebSocketMessageType.Text, true, timeout.Token);
        WebSocketReceiveResult echoed = await socket.ReceiveAsync(buffer, timeout.Token);
        Assert.Equal("still here", Encoding.UTF8.GetString(buffer, 0, echoed.Count));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
    }
}
