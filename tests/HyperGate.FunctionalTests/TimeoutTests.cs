using System.Diagnostics;
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

    [Fact]
    public async Task TricklingHead_Is408AtTheDeadlineFromItsFirstByte_NotAfterEachByte()
    {
        // The head timeout is a deadline for the whole head: a client sending a byte every 100 ms (each far inside the
        // timeout) is answered 408 once 1 s has passed since its first byte, while it is still sending.
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, limits: "[limits]\nrequest_head_timeout = \"1s\"");
        using RawClient client = gateway.ConnectRaw();
        using var stop = new CancellationTokenSource();
        var sinceFirstByte = Stopwatch.StartNew();
        Task trickle = TrickleAsync(client, "GET /slowloris HTTP/1.1\r\nHost: a\r\nX-Drip: " + new string('x', 200), TimeSpan.FromMilliseconds(100), stop.Token);

        RawResponse response = await client.ReadResponseAsync();
        TimeSpan answeredAfter = sinceFirstByte.Elapsed;
        await stop.CancelAsync();
        await trickle;

        Assert.Equal(408, response.Status);
        Assert.Equal("RequestHeadTimeout", JsonDocument.Parse(response.Body).RootElement.GetProperty("reason").GetString());
        Assert.InRange(answeredAfter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
        Assert.True(await client.IsClosedAsync());
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task ManyTricklingHeads_HoldingEverySlot_AreClosedAndNormalClientsServed()
    {
        // Every connection slot is taken by a client trickling a head that never ends. Each is closed at its head
        // deadline, so a normal client that keeps trying is served; with a timer re-armed per byte it never would be.
        const int slots = 20;
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address,
            limits: $"[server]\nlisten = [\"127.0.0.1:0\"]\nmax_connections = {slots}\n[limits]\nrequest_head_timeout = \"1s\"");
        using var stop = new CancellationTokenSource();
        var tricklers = new List<(RawClient Client, Task Trickle)>();
        for (int i = 0; i < slots; i++)
        {
            RawClient trickler = gateway.ConnectRaw();
            tricklers.Add((trickler, TrickleAsync(trickler, "GET / HTTP/1.1\r\nHost: a\r\nX-Drip: " + new string('x', 1000), TimeSpan.FromMilliseconds(200), stop.Token)));
        }

        // Each try either is refused at the cap (the connection closed at once) or served.
        int? served = null;
        var trying = Stopwatch.StartNew();
        while (served is null && trying.Elapsed < TimeSpan.FromSeconds(20))
        {
            using RawClient client = gateway.ConnectRaw();
            try
            {
                await client.SendAsync("GET /normal HTTP/1.1\r\nHost: a\r\n\r\n");
                served = (await client.ReadResponseAsync()).Status;
            }
            catch (IOException)
            {
            }
        }

        await stop.CancelAsync();
        await Task.WhenAll(tricklers.Select(t => t.Trickle));
        tricklers.ForEach(t => t.Client.Dispose());
        Assert.Equal(200, served);
        Assert.Equal(["/normal"], upstream.Paths);
    }

    /// <summary>Sends <paramref name="text"/> a byte at a time, one per <paramref name="interval"/>, until done, stopped or closed.</summary>
    private static async Task TrickleAsync(RawClient client, string text, TimeSpan interval, CancellationToken stop)
    {
        try
        {
            foreach (char c in text)
            {
                await client.SendAsync([(byte)c]);
                await Task.Delay(interval, stop);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The gateway closed the connection, or the test is over.
        }
    }
}
