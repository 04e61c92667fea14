namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>
/// Tests that speak raw HTTP/2 frames (<see cref="H2Client"/>) to a gateway taking h2c by prior knowledge, in front
/// of one echo upstream; the error codes of RFC 9113 §7 they expect.
/// </summary>
public abstract class H2cGatewayTests : IAsyncLifetime
{
    protected const uint NoError = 0x0, ProtocolError = 0x1, FlowControlError = 0x3, StreamClosed = 0x5, FrameSizeError = 0x6, CompressionError = 0x9;

    protected TestUpstream Upstream { get; private set; } = null!;

    protected TestGateway Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Upstream = await TestUpstream.StartAsync();
        Gateway = await TestGateway.StartAsync($$"""
            [http2]
            h2c = true
            [upstreams.backend]
            targets = ["{{Upstream.Address}}"]
            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            """);
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Upstream.DisposeAsync();
    }

    protected Task<H2Client> ConnectAsync(bool preface = true) => H2Client.ConnectAsync(Gateway.EndPoint, preface);

    /// <summary>Sends <paramref name="frames"/> on a new connection: a connection error (§5.4.1) must answer, GOAWAY with <paramref name="code"/> and the close.</summary>
    protected async Task ExpectConnectionErrorAsync(string why, byte[] frames, uint code)
    {
        await using H2Client client = await ConnectAsync();

        await client.SendRawAsync(frames);
        H2Frame goAway = await client.ExpectGoAwayAsync();

        Assert.True(goAway.ErrorCode == code, $"{why}: expected {code}, got {goAway.ErrorCode}");
        Assert.True(await client.ClosedAsync());
    }
}
