using System.Net;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>The state that served one client connection serves the next, with nothing of the first left in it.</summary>
public class ConnectionReuseTests
{
    [Fact]
    public async Task TheNextConnection_ReusesTheState_WithItsOwnClientAddressAndNothingOfThePreviousRequest()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        var handler = gateway.Host.Listeners.Handler;

        using (RawClient first = RawClient.Connect(gateway.EndPoint, IPAddress.Parse("127.0.0.2")))
        {
            await first.SendAsync("GET /first?secret=1 HTTP/1.1\r\nHost: a\r\nX-Custom: from-first\r\nConnection: close\r\n\r\n");
            EchoResult echo = EchoResult.Parse((await first.ReadResponseAsync()).Body);
            Assert.Equal("127.0.0.2", echo.Headers["X-Forwarded-For"]);

            // The gateway closes only after the handler let go of the state.
            Assert.True(await first.IsClosedAsync());
        }

        Assert.Equal(1, handler.IdleStates);
        using RawClient second = RawClient.Connect(gateway.EndPoint, IPAddress.Loopback);
        await second.SendAsync("GET /second HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse response = await second.ReadResponseAsync();
        EchoResult reused = EchoResult.Parse(response.Body);

        Assert.Equal(0, handler.IdleStates);
        Assert.Equal("127.0.0.1", reused.Headers["X-Forwarded-For"]);
        Assert.Equal("/second", reused.Path);
        Assert.False(reused.Headers.ContainsKey("X-Custom"));
        Assert.Null(response.Header("Connection"));
    }
}
