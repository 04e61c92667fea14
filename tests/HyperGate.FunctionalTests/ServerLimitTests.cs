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
            Assert.Null(await TryGetAsync(third));
        }

        // The gateway notices the departure asynchronously: once it counts one connection, a new one is accepted.
        var oneLeft = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gateway.Host.Listeners.ConnectionEnded += open =>
        {
            if (open <= 1)
            {
                oneLeft.TrySetResult();
            }
        };
        first.Dispose();
        await oneLeft.Task.WaitAsync(TimeSpan.FromSeconds(30));

        using RawClient again = gateway.ConnectRaw();
        Assert.Equal(200, (await TryGetAsync(again))?.Status);
        Assert.Equal(3, upstream.RequestCount);
    }

    [Fact]
    public async Task ClosedConnections_GiveTheirPlaceBack_WithNoOneWatchingTheCount()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, limits: "[server]\nlisten = [\"127.0.0.1:0\"]\nmax_connections = 1");

        // The gateway closes each connection only after it has stopped counting it, so the client seeing the
        // close is the event to wait for: every next connection must be served, not refused at the cap.
        for (int i = 0; i < 5; i++)
        {
            using RawClient client = gateway.ConnectRaw();
            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
            Assert.Equal(200, (await client.ReadResponseAsync()).Status);
            Assert.True(await client.IsClosedAsync());
        }

        Assert.Equal(0, gateway.Host.Listeners.OpenConnections);
        Assert.Equal(5, upstream.RequestCount);
    }

    /// <summary>A GET's answer, or null when the gateway closed the connection on arrival (before or after the request was written).</summary>
    private static async Task<RawResponse?> TryGetAsync(RawClient client)
    {
        try
        {
            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            return await client.IsClosedAsync() ? null : await client.ReadResponseAsync();
        }
        catch (IOException)
        {
            return null;
        }
    }
}
