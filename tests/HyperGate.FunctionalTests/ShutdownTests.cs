using System.Net.Sockets;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

public class ShutdownTests
{
    [Fact]
    public async Task Stop_LetsInFlightRequestFinish_AndRefusesNewConnections()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();

        Task<HttpResponseMessage> inFlight = client.GetAsync("/slow");
        await upstream.SlowEntered.Task.WaitAsync(TimeSpan.FromSeconds(15));

        Task stopping = gateway.Host.StopAsync();

        // Listeners close first: a new connection is refused while the old request is still running.
        await Assert.ThrowsAnyAsync<SocketException>(async () =>
        {
            using var probe = new TcpClient();
            await probe.ConnectAsync(gateway.EndPoint);
        });
        Assert.False(stopping.IsCompleted);

        upstream.SlowGate.SetResult();
        using HttpResponseMessage response = await inFlight;
        Assert.Equal("done", await response.Content.ReadAsStringAsync());
        Assert.Equal("close", string.Join(",", response.Headers.Connection));
        await stopping.WaitAsync(TimeSpan.FromSeconds(15));
        await gateway.Host.DisposeAsync();
    }

    [Fact]
    public async Task Stop_AbortsWhatIsStillBusyAtTheDrainTimeout()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, limits: "[server]\nlisten = [\"127.0.0.1:0\"]\ndrain_timeout = \"1s\"");
        using RawClient busy = gateway.ConnectRaw();
        await busy.SendAsync("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
        await upstream.SlowEntered.Task.WaitAsync(TimeSpan.FromSeconds(15));

        // The upstream does not answer in time: the stop ends by aborting the client's connection, with no byte of a response.
        await gateway.Host.StopAsync().WaitAsync(TimeSpan.FromSeconds(15));

        Assert.True(await busy.IsClosedAsync());
        upstream.SlowGate.SetResult();
        await gateway.Host.DisposeAsync();
    }
}
