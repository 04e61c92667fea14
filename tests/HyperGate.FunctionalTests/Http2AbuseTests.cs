using HyperGate.FunctionalTests.Infrastructure;
using static HyperGate.FunctionalTests.Infrastructure.PrometheusText;

namespace HyperGate.FunctionalTests;

/// <summary>Hostile HTTP/2 clients: each limit is met, answered with the right frame, and counted by reason.</summary>
public sealed class Http2AbuseTests
{
    private const uint RefusedStream = 0x7, Cancel = 0x8, EnhanceYourCalm = 0xb, NoError = 0x0;

    private static Task<TestGateway> StartAsync(TestUpstream upstream, string http2) => TestGateway.StartAsync($$"""
        [admin]
        listen = "127.0.0.1:0"
        [http2]
        h2c = true
        {{http2}}
        [upstreams.backend]
        targets = ["{{upstream.Address}}"]
        [routes.all]
        path_prefix = "/"
        upstream = "backend"
        """);

    private static async Task<double> CountedAsync(TestGateway gateway, string reason) =>
        Value(await gateway.CreateAdminClient().GetStringAsync("/metrics"), "hypergate_http2_errors_total", ("reason", reason));

    [Fact]
    public async Task StreamsPastMaxConcurrentStreams_AreRefused_AndTheOpenOnesStillAnswered()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "max_concurrent_streams = 2");
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);

        await client.SendHeadersAsync(1, H2Client.Request("/slow"), endStream: true);
        await client.SendHeadersAsync(3, H2Client.Request("/slow"), endStream: true);
        await client.SendHeadersAsync(5, H2Client.Request("/slow"), endStream: true);

        Assert.Equal(RefusedStream, (await client.ExpectResetAsync(5)).ErrorCode);
        upstream.SlowGate.SetResult();
        Assert.Equal("done", (await client.ReadResponseAsync(1)).Text);
        Assert.Equal("done", (await client.ReadResponseAsync(3)).Text);
        Assert.Equal(1, await CountedAsync(gateway, "stream_refused"));
        string metrics = await gateway.CreateAdminClient().GetStringAsync("/metrics");
        Assert.Equal(2, Value(metrics, "hypergate_requests_total", ("route", "all"), ("status_class", "2xx"), ("protocol", "HTTP/2")));
    }

    [Fact]
    public async Task RapidReset_ClosesTheConnection_WithEnhanceYourCalm()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "max_resets = 10");
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);

        // CVE-2023-44487: open a stream and cancel it at once, again and again; none is ever answered.
        for (int stream = 1; stream <= 2 * 12; stream += 2)
        {
            await client.SendRawAsync([
                .. H2Client.Frame(H2Frame.Headers, H2Frame.EndHeaders | H2Frame.EndStream, stream, H2Client.Encode(H2Client.Request("/slow"))),
                .. H2Client.Frame(H2Frame.RstStream, 0, stream, H2Client.BigEndian(Cancel)),
            ]);
        }

        Assert.Equal(EnhanceYourCalm, (await client.ExpectGoAwayAsync()).ErrorCode);
        Assert.Equal(1, await CountedAsync(gateway, "rapid_reset"));
        upstream.SlowGate.SetResult();
    }

    [Fact]
    public async Task ResetsOfAnsweredClients_AreNotAbuse()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "max_resets = 2");
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);

        // A client that cancels now and then, among many streams answered, keeps its connection.
        int stream = 1;
        for (int round = 0; round < 4; round++)
        {
            for (int i = 0; i < 3; i++, stream += 2)
            {
                await client.SendHeadersAsync(stream, H2Client.Request("/ok"), endStream: true);
                Assert.Equal(200, (await client.ReadResponseAsync(stream)).Status);
            }

            await client.SendHeadersAsync(stream, H2Client.Request("/ok", "POST"), endStream: false);
            await client.SendRstStreamAsync(stream);
            stream += 2;
        }

        await client.SendHeadersAsync(stream, H2Client.Request("/last"), endStream: true);
        Assert.Equal(200, (await client.ReadResponseAsync(stream)).Status);
    }

    [Fact]
    public async Task ContinuationFlood_IsCutOff_WithEnhanceYourCalm()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "max_header_list_size = \"4KB\"");
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);

        // CVE-2024-27316: a header block that never ends. The gateway stops collecting it long before memory runs out.
        await client.SendHeadersAsync(1, H2Client.Request("/"), endStream: true, endHeaders: false);
        byte[] fragment = H2Client.Encode([("x-filler", new string('f', 1000))]);
        try
        {
            for (int i = 0; i < 200; i++)
            {
                await client.SendFrameAsync(H2Frame.Continuation, 0, 1, fragment);
            }
        }
        catch (IOException)
        {
            // The gateway closed the connection while frames were still being sent.
        }

        Assert.Equal(EnhanceYourCalm, (await client.ExpectGoAwayAsync()).ErrorCode);
        Assert.Equal(1, await CountedAsync(gateway, "header_block_too_large"));
        Assert.Equal(0, upstream.RequestCount);
    }

    [Theory]
    [InlineData(H2Frame.Ping, 0, 8)]
    [InlineData(H2Frame.Settings, 0, 0)]
    [InlineData(H2Frame.Data, 1, 0)]
    public async Task ControlFrameFloods_AreCutOff_WithEnhanceYourCalm(byte type, int stream, int length)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "max_control_frames = 10");
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);
        if (stream != 0)
        {
            await client.SendHeadersAsync(stream, H2Client.Request("/slow", "POST"), endStream: false);
        }

        byte[] frames = [.. Enumerable.Range(0, 20).SelectMany(_ => H2Client.Frame(type, 0, stream, new byte[length]))];
        try
        {
            await client.SendRawAsync(frames);
        }
        catch (IOException)
        {
        }

        Assert.Equal(EnhanceYourCalm, (await client.ExpectGoAwayAsync()).ErrorCode);
        Assert.Equal(1, await CountedAsync(gateway, "control_frame_flood"));
        upstream.SlowGate.SetResult();
    }

    [Fact]
    public async Task AClientThatNeverOpensItsWindow_HasTheStreamReset_AfterSendTimeout()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "send_timeout = \"300ms\"");

        // SETTINGS_INITIAL_WINDOW_SIZE = 0: the response head may come, no byte of its body.
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint, settings: [(4, 0)]);
        await client.SendHeadersAsync(1, H2Client.Request("/download?size=1000"), endStream: true);

        await client.ExpectAsync(f => f.Type == H2Frame.Headers && f.Stream == 1, "the response head");
        Assert.Equal(Cancel, (await client.ExpectResetAsync(1)).ErrorCode);
        Assert.DoesNotContain(client.Seen, f => f.Type == H2Frame.Data);
        Assert.Equal(1, await CountedAsync(gateway, "send_timeout"));
    }

    [Fact]
    public async Task AWindowOpenedLater_LetsTheBodyThrough()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "");
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint, settings: [(4, 0)]);
        await client.SendHeadersAsync(1, H2Client.Request("/download?size=1000"), endStream: true);
        await client.ExpectAsync(f => f.Type == H2Frame.Headers && f.Stream == 1, "the response head");

        // §6.9.2: a SETTINGS change opens every stream's window by the difference.
        await client.SendSettingsAsync((4, 600));
        H2Frame first = await client.ExpectAsync(f => f.Type == H2Frame.Data && f.Stream == 1, "the first DATA");
        Assert.Equal(600, first.Payload.Length);
        await client.SendWindowUpdateAsync(1, 400);
        H2Frame second = await client.ExpectAsync(f => f.Type == H2Frame.Data && f.Stream == 1 && f.Payload.Length > 0, "the rest");
        Assert.Equal(400, second.Payload.Length);
    }

    [Fact]
    public async Task AHeaderListPastTheLimit_IsAnswered431()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "max_header_list_size = \"4KB\"");
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);

        await client.SendHeadersAsync(1, H2Client.Request("/big", "GET", ("x-big", new string('b', 5000))), endStream: true);

        Assert.Equal(431, (await client.ReadResponseAsync(1)).Status);
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task Shutdown_SendsGoAway_AndFinishesTheStreamsInFlight()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        TestGateway gateway = await StartAsync(upstream, "");
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);
        await client.SendHeadersAsync(1, H2Client.Request("/slow"), endStream: true);
        await upstream.SlowEntered.Task;

        ValueTask stopping = gateway.DisposeAsync();
        H2Frame goAway = await client.ExpectGoAwayAsync();
        Assert.Equal(NoError, goAway.ErrorCode);
        Assert.Equal(1, goAway.LastStreamId);

        upstream.SlowGate.SetResult();
        Assert.Equal("done", (await client.ReadResponseAsync(1)).Text);
        await stopping;
    }
}
