using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

public class UpstreamFailureTests
{
    [Fact]
    public async Task RefusedConnection_Is502()
    {
        using ClosedPort closed = TestPorts.Closed();
        await using TestGateway gateway = await TestGateway.StartForAsync(closed.Address);
        using HttpClient client = gateway.CreateClient();
        using HttpResponseMessage response = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("upstream_connect_failed", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());

        // The connection survives an upstream failure.
        using HttpResponseMessage again = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.BadGateway, again.StatusCode);
    }

    [Fact]
    public async Task UnansweredConnect_Is504AfterConnectTimeout()
    {
        // A listener that never accepts, with its accept queue filled: further SYNs are dropped, so connect hangs.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var fillers = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(filler);
                using var attempt = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
                try
                {
                    await filler.ConnectAsync(listener.LocalEndPoint!, attempt.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            await using TestGateway gateway = await TestGateway.StartForAsync(listener.LocalEndPoint!.ToString()!, upstreamExtras: "connect_timeout = \"300ms\"");
            using HttpClient client = gateway.CreateClient();
            using HttpResponseMessage response = await client.GetAsync("/");
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
            Assert.Equal("upstream_connect_timeout", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
        }
        finally
        {
            fillers.ForEach(f => f.Dispose());
        }
    }

    [Fact]
    public async Task SilentUpstream_Is504AfterResponseTimeout()
    {
        await using var upstream = new RawUpstream((_, _) => new RawReply([], Hang: true));
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, upstreamExtras: "response_timeout = \"300ms\"");
        using HttpClient client = gateway.CreateClient();
        using HttpResponseMessage response = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("upstream_timeout", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task UpstreamSilentMidBody_IsCutOffAfterResponseTimeout_AndTheClientSeesTheTruncation()
    {
        await using var upstream = new RawUpstream((_, _) => new RawReply(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"), Hang: true));
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, upstreamExtras: "response_timeout = \"300ms\"");
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        string head = await client.ReadHeadAsync();
        byte[] body = await client.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.StartsWith("HTTP/1.1 200 OK", head);
        Assert.Equal("0123456789", Encoding.ASCII.GetString(body));
    }

    [Theory]
    [InlineData("garbage\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nok")]
    [InlineData("HTTP/1.1 200 OK\r\nX-Split: a\rb\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Le")]
    public async Task MalformedOrTruncatedResponseHead_Is502_AndConnectionIsDiscarded(string reply)
    {
        await using var upstream = new RawUpstream((_, n) => n == 1
            ? RawReply.Text(reply, close: true)
            : RawReply.Text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage bad = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.BadGateway, bad.StatusCode);
        Assert.Equal("ok", await client.GetStringAsync("/"));
        Assert.Equal(2, upstream.ConnectionCount);
    }

    [Fact]
    public async Task UpstreamDyingMidResponse_ClientSeesTruncation_GatewayKeepsServing()
    {
        await using var upstream = new RawUpstream((head, _) => head.StartsWith("GET /die", StringComparison.Ordinal)
            ? RawReply.Text("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial", close: true)
            : RawReply.Text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);

        using (RawClient raw = gateway.ConnectRaw())
        {
            await raw.SendAsync("GET /die HTTP/1.1\r\nHost: a\r\n\r\n");
            string head = await raw.ReadHeadAsync();
            Assert.Contains("Content-Length: 1000", head);
            byte[] body = await raw.ReadToEndAsync();
            Assert.Equal("partial", System.Text.Encoding.ASCII.GetString(body));
        }

        using HttpClient client = gateway.CreateClient();
        Assert.Equal("ok", await client.GetStringAsync("/fine"));
    }

    [Fact]
    public async Task PooledConnectionClosedByUpstream_IsNotReused()
    {
        // The upstream closes after every response without saying so: the pool must notice, not fail the next request.
        await using var upstream = new RawUpstream((_, _) => RawReply.Text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: true));
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal("ok", await client.GetStringAsync("/"));
        }

        Assert.Equal(5, upstream.ConnectionCount);
    }

    [Fact]
    public async Task UpstreamWithoutDestinations_Is503()
    {
        await using TestGateway gateway = await TestGateway.StartAsync("""
            [upstreams.empty]
            targets = []
            [routes.all]
            path_prefix = "/"
            upstream = "empty"
            """);
        using HttpClient client = gateway.CreateClient();
        using HttpResponseMessage response = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
    }

    [Fact]
    public async Task ConnectionCloseFromUpstream_ConnectionIsNotPooled()
    {
        await using var upstream = new RawUpstream((_, _) => RawReply.Text("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"));
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();
        Assert.Equal("ok", await client.GetStringAsync("/"));
        Assert.Equal("ok", await client.GetStringAsync("/"));
        Assert.Equal(2, upstream.ConnectionCount);
    }
}
