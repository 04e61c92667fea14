using System.Net;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Hosting;
using HyperGate.Upstreams;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.FunctionalTests;

/// <summary>Destinations found through DNS (A and SRV, from a DNS server in the test) and a watched targets file.</summary>
public sealed class DiscoveryTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("hypergate-discovery-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Replaces a file in one step, as deployment tools do, so that no half-written file is ever read.</summary>
    private static async Task ReplaceAsync(string path, string text)
    {
        string temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    private static Task<Upstream> NextDiscoveryAsync(TestGateway gateway)
    {
        var changed = new TaskCompletionSource<Upstream>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChange(Upstream upstream)
        {
            gateway.Host.Runtime.Connections.Discovered -= OnChange;
            changed.TrySetResult(upstream);
        }

        gateway.Host.Runtime.Connections.Discovered += OnChange;
        return changed.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>How many of <paramref name="requests"/> each upstream answered (a failure counts under its status).</summary>
    private static async Task<Dictionary<string, int>> SpreadAsync(TestGateway gateway, int requests) =>
        (await gateway.SendManyAsync(requests))
            .GroupBy(answer => answer.Status == 200 ? answer.Upstream! : answer.Status.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .ToDictionary(g => g.Key, g => g.Count());

    [Fact]
    public async Task ATargetWrittenAsAName_IsResolved_AndReResolvedOnItsTtl()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync("named");
        using var dns = new TestDnsServer { Ttl = 30 };
        dns.SetA("orders.test", IPAddress.Loopback);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        int port = new Uri($"http://{upstream.Address}").Port;
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [dns]
            servers = ["{dns.EndPoint}"]
            [upstreams.orders]
            targets = ["orders.test:{port}"]
            [routes.all]
            path_prefix = "/"
            upstream = "orders"
            preserve_host = false
            """, new GatewayHostOptions { TimeProvider = time });

        // Resolved before the gateway serves; the Host sent is the name, not the address.
        using HttpClient http = gateway.CreateClient();
        EchoResult echo = EchoResult.Parse(await http.GetStringAsync("/"));
        Assert.Equal($"orders.test:{port}", echo.Headers["Host"]);
        Assert.Equal([$"127.0.0.1:{port}"], gateway.Host.Runtime.Snapshot.Upstreams["orders"].Destinations.Select(d => d.Address));

        // The name disappears: once its TTL runs out, so do its destinations.
        dns.Remove("orders.test");
        Task<Upstream> change = NextDiscoveryAsync(gateway);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(change.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty((await change).Destinations);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/")).StatusCode);

        // It comes back.
        dns.SetA("orders.test", IPAddress.Loopback);
        change = NextDiscoveryAsync(gateway);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Single((await change).Destinations);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/")).StatusCode);
    }

    [Fact]
    public async Task DnsSrv_UsesTheLowestPriorityRecords_WithTheirPortsAndWeights_AndFollowsChanges()
    {
        await using TestUpstream heavy = await TestUpstream.StartAsync("heavy");
        await using TestUpstream light = await TestUpstream.StartAsync("light");
        await using TestUpstream standby = await TestUpstream.StartAsync("standby");
        static ushort Port(TestUpstream u) => (ushort)new Uri($"http://{u.Address}").Port;
        using var dns = new TestDnsServer { Ttl = 10 };
        dns.SetA("node.test", IPAddress.Loopback);
        dns.SetSrv("_http._tcp.orders.test", (10, 3, Port(heavy), "node.test"), (10, 1, Port(light), "node.test"), (20, 5, Port(standby), "node.test"));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [dns]
            servers = ["{dns.EndPoint}"]
            [upstreams.orders]
            dns_srv = "_http._tcp.orders.test"
            balance = "round_robin"
            [routes.all]
            path_prefix = "/"
            upstream = "orders"
            """, new GatewayHostOptions { TimeProvider = time });

        Dictionary<string, int> spread = await SpreadAsync(gateway, 400);
        Assert.Equal(300, spread["heavy"]);
        Assert.Equal(100, spread["light"]);
        Assert.False(spread.ContainsKey("standby"));

        // The primaries leave the record set: traffic moves to the standby.
        dns.SetSrv("_http._tcp.orders.test", (20, 5, Port(standby), "node.test"));
        Task<Upstream> change = NextDiscoveryAsync(gateway);
        time.Advance(TimeSpan.FromSeconds(10));
        await change;
        Assert.Equal(new Dictionary<string, int> { ["standby"] = 20 }, await SpreadAsync(gateway, 20));
    }

    [Fact]
    public async Task ATargetsFile_IsAppliedWhenItChanges_AndABrokenOneChangesNothing()
    {
        await using TestUpstream first = await TestUpstream.StartAsync("first");
        await using TestUpstream second = await TestUpstream.StartAsync("second");
        string targets = Path.Combine(_directory, "targets.json");
        await File.WriteAllTextAsync(targets, $"[\"{first.Address}\"]");
        string config = Path.Combine(_directory, "hypergate.toml");
        await File.WriteAllTextAsync(config, TestGateway.WithServer("""
            [upstreams.backend]
            targets_file = "targets.json"
            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            """));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(config);
        Assert.Equal(new Dictionary<string, int> { ["first"] = 5 }, await SpreadAsync(gateway, 5));

        // A request in flight on the destination that leaves finishes there (its connection drains).
        using RawClient inFlight = gateway.ConnectRaw();
        await inFlight.SendAsync("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
        await first.SlowEntered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Task<Upstream> change = NextDiscoveryAsync(gateway);
        await ReplaceAsync(targets, $"{{ \"targets\": [{{ \"address\": \"{second.Address}\", \"weight\": 2 }}] }}");
        await change;
        Assert.Equal(new Dictionary<string, int> { ["second"] = 5 }, await SpreadAsync(gateway, 5));
        first.SlowGate.SetResult();
        Assert.Equal(200, (await inFlight.ReadResponseAsync()).Status);

        // A file that does not parse is refused; the last good targets stay.
        var refused = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        gateway.Host.Runtime.Connections.DiscoveryFailed += (upstream, reason) => refused.TrySetResult(reason);
        await ReplaceAsync(targets, $"[\"{first.Address}\", \"oops\"]");
        Assert.Contains("target 2 is not", await refused.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(new Dictionary<string, int> { ["second"] = 5 }, await SpreadAsync(gateway, 5));
    }
}
