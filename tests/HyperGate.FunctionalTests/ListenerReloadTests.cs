using System.Net;
using System.Net.Sockets;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Hosting;

namespace HyperGate.FunctionalTests;

public sealed class ListenerReloadTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("hypergate-listeners-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string Config(string upstream, params int[] extraPorts) => $"""
        [server]
        listen = ["127.0.0.1:0"{string.Concat(extraPorts.Select(p => $", \"127.0.0.1:{p}\""))}]
        drain_timeout = "10s"
        watch_config = false

        [upstreams.backend]
        targets = ["{upstream}"]

        [routes.all]
        path_prefix = "/"
        upstream = "backend"
        """;

    [Fact]
    public async Task Reload_OpensAddedAddresses_DrainsRemovedOnes_AndLeavesTheOthersAlone()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        int removedPort = TestPorts.Free();
        int addedPort = TestPorts.Free();
        string path = Path.Combine(_directory, "hypergate.toml");
        await File.WriteAllTextAsync(path, Config(upstream.Address, removedPort));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);
        IPEndPoint kept = gateway.EndPoint;
        var removed = new IPEndPoint(IPAddress.Loopback, removedPort);
        var added = new IPEndPoint(IPAddress.Loopback, addedPort);

        // A keep-alive connection on the kept address, an idle one and one with a request in flight on the removed one.
        using RawClient keptClient = RawClient.Connect(kept);
        await keptClient.SendAsync("GET /before HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(200, (await keptClient.ReadResponseAsync()).Status);
        using RawClient idleOnRemoved = RawClient.Connect(removed);
        await idleOnRemoved.SendAsync("GET /before HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(200, (await idleOnRemoved.ReadResponseAsync()).Status);
        using RawClient busyOnRemoved = RawClient.Connect(removed);
        await busyOnRemoved.SendAsync("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
        await upstream.SlowEntered.Task.WaitAsync(TimeSpan.FromSeconds(30));

        await File.WriteAllTextAsync(path, Config(upstream.Address, addedPort));
        ReloadResult result = await gateway.Host.Reloader.ReloadAsync("test");

        Assert.True(result.Applied, string.Join("; ", result.Errors));
        Assert.Empty(result.Notes);
        Assert.Equal([kept, added], gateway.Host.Endpoints);

        using RawClient addedClient = RawClient.Connect(added);
        await addedClient.SendAsync("GET /added HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(200, (await addedClient.ReadResponseAsync()).Status);
        await keptClient.SendAsync("GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(200, (await keptClient.ReadResponseAsync()).Status);

        // The removed address stops accepting; its idle connection is closed, its busy one finishes its request.
        Assert.True(await idleOnRemoved.IsClosedAsync());
        Assert.Throws<SocketException>(() => RawClient.Connect(removed).Dispose());
        upstream.SlowGate.SetResult();
        RawResponse slow = await busyOnRemoved.ReadResponseAsync();
        Assert.Equal(200, slow.Status);
        Assert.Equal("close", slow.Header("Connection"));
    }

    [Fact]
    public async Task ARemovedAddress_SendsItsHttp2ConnectionsGoAway_AndFinishesTheirStreams()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        int removedPort = TestPorts.Free();
        string path = Path.Combine(_directory, "hypergate.toml");
        await File.WriteAllTextAsync(path, "[http2]\nh2c = true\n" + Config(upstream.Address, removedPort));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);
        await using H2Client client = await H2Client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, removedPort));
        await client.SendHeadersAsync(1, H2Client.Request("/slow"), endStream: true);
        await upstream.SlowEntered.Task.WaitAsync(TimeSpan.FromSeconds(30));

        await File.WriteAllTextAsync(path, "[http2]\nh2c = true\n" + Config(upstream.Address));
        Assert.True((await gateway.Host.Reloader.ReloadAsync("test")).Applied);

        // RFC 9113 §6.8: a graceful GOAWAY names the last stream the gateway will answer; that stream still is.
        H2Frame goAway = await client.ExpectGoAwayAsync();
        Assert.Equal((0u, 1), (goAway.ErrorCode, goAway.LastStreamId));
        upstream.SlowGate.SetResult();
        Assert.Equal("done", (await client.ReadResponseAsync(1)).Text);
        Assert.True(await client.ClosedAsync());
    }

    [Fact]
    public async Task Reload_WhoseNewAddressCannotBeBound_IsRefused_AndEveryListenerStays()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        using var occupier = new TcpListener(IPAddress.Loopback, 0);
        occupier.Start();
        int busyPort = ((IPEndPoint)occupier.LocalEndpoint).Port;
        int freePort = TestPorts.Free();
        string path = Path.Combine(_directory, "hypergate.toml");
        await File.WriteAllTextAsync(path, Config(upstream.Address));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);
        IReadOnlyList<IPEndPoint> before = gateway.Host.Endpoints;
        string versionBefore = gateway.Host.Runtime.Snapshot.Config.Version;

        await File.WriteAllTextAsync(path, Config(upstream.Address, freePort, busyPort));
        ReloadResult result = await gateway.Host.Reloader.ReloadAsync("test");

        Assert.False(result.Applied);
        ConfigErrorAssert(result, path, busyPort);
        Assert.Equal(before, gateway.Host.Endpoints);
        Assert.Equal(versionBefore, gateway.Host.Runtime.Snapshot.Config.Version);
        Assert.Throws<SocketException>(() => RawClient.Connect(new IPEndPoint(IPAddress.Loopback, freePort)).Dispose());
        using RawClient client = gateway.ConnectRaw();
        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task Reload_ThatChangesARestartOnlySetting_AppliesTheRest_AndSaysWhatWaitsForARestart()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        string path = Path.Combine(_directory, "hypergate.toml");
        await File.WriteAllTextAsync(path, Config(upstream.Address));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);

        await File.WriteAllTextAsync(path, Config(upstream.Address).Replace("drain_timeout = \"10s\"", "drain_timeout = \"5s\"\nmax_connections = 7"));
        ReloadResult result = await gateway.Host.Reloader.ReloadAsync("test");

        Assert.True(result.Applied);
        Assert.Equal(7, gateway.Host.Runtime.Snapshot.Config.Server.MaxConnections);
        Assert.Equal(["server.drain_timeout for shutdown changed; the running value stays until the gateway restarts"], result.Notes);
    }

    private static void ConfigErrorAssert(ReloadResult result, string path, int busyPort)
    {
        Configuration.ConfigError error = Assert.Single(result.Errors);
        Assert.Equal(path, error.Location.File);
        Assert.Equal(2, error.Location.Line);
        Assert.Contains($"cannot listen on 127.0.0.1:{busyPort}: the address is already in use", error.Message, StringComparison.Ordinal);
    }
}
