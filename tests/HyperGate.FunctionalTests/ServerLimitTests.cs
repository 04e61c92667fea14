using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

public class ServerLimitTests
{
    [Fact]
    public async Task ConnectionsBeyondMaxConnections_AreClosedOnArrival_AndAcceptedAgainOnceOneLeaves()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [server]
            listen = ["127.0.0.1:0"]
            max_connections = 2
            [upstreams.backend]
            targets = ["{upstream.Address}"]
            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            """);

        using RawClient first = gateway.ConnectRaw();
        using RawClient second = gateway.ConnectRaw();
        foreach (RawClient client in new[] { first, second })
        {
            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            Assert.Equal(200, (await client.ReadResponseAsync()).Status);
        }

        using (RawClient third = gateway.ConnectRaw())
        {
            await third.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            Assert.True(await third.IsClosedAsync());
        }

        first.Dispose();
        RawResponse? response = null;
        for (int attempt = 0; attempt < 50 && response is null; attempt++)
        {
            // The gateway notices the departure asynchronously; a refused attempt is simply retried.
            using RawClient again = gateway.ConnectRaw();
            await again.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            if (!await again.IsClosedAsync())
            {
                response = await again.ReadResponseAsync();
            }
        }

        Assert.Equal(200, response?.Status);
        Assert.Equal(3, upstream.RequestCount);
    }
}
