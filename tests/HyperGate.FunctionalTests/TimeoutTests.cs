using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

public class TimeoutTests
{
    [Fact]
    public async Task IncompleteHead_Is408AfterRequestHeadTimeout_AndNeverReachesUpstream()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, limits: "[limits]\nrequest_head_timeout = \"300ms\"");
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("GET /slowloris HTTP/1.1\r\nHost: a\r\nX-Drip: ");
        RawResponse response = await client.ReadResponseAsync();

        Assert.Equal(408, response.Status);
        Assert.Equal("request_timeout", JsonDocument.Parse(response.Body).RootElement.GetProperty("error").GetString());
        Assert.True(await client.IsClosedAsync());
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task IdleKeepAliveConnection_IsClosedAfterKeepAliveTimeout()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, limits: "[limits]\nkeepalive_timeout = \"300ms\"");
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse response = await client.ReadResponseAsync();

        // The response kept the connection open; only the idle timeout closes it.
        Assert.Equal(200, response.Status);
        Assert.Null(response.Header("Connection"));
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task TricklingBody_Is408_WhenBelowTheMinimumRate()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, limits: "[limits]\nmin_body_rate = \"1KB\"\nbody_rate_grace = \"300ms\"");
        using RawClient client = gateway.ConnectRaw();

        // Ten bytes of a 100 000-byte body, then nothing: far below 1 KB/s once the grace period is over.
        await client.SendAsync("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n0123456789");
        RawResponse response = await client.ReadResponseAsync();

        Assert.Equal(408, response.Status);
        Assert.Equal("BodyTooSlow", JsonDocument.Parse(response.Body).RootElement.GetProperty("reason").GetString());
        Assert.True(await client.IsClosedAsync());
    }
}
