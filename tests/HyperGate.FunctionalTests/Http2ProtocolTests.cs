using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>
/// RFC 9113's rules with a raw frame client: malformed requests are stream errors that never reach the upstream
/// (§8.1.1), broken frames are connection errors with the right code (§5.4.1, §7), and valid shapes are served.
/// </summary>
public sealed class Http2ProtocolTests : H2cGatewayTests
{
    public static TheoryData<string, (string, string)[]> MalformedRequests => new()
    {
        { "uppercase field name", H2Client.Request("/m", "GET", ("X-Upper", "1")) },
        { "connection field", H2Client.Request("/m", "GET", ("connection", "close")) },
        { "transfer-encoding field", H2Client.Request("/m", "GET", ("transfer-encoding", "chunked")) },
        { "upgrade field", H2Client.Request("/m", "GET", ("upgrade", "websocket")) },
        { "te other than trailers", H2Client.Request("/m", "GET", ("te", "gzip")) },
        { "pseudo-header after a regular field", [(":method", "GET"), (":scheme", "http"), ("x", "1"), (":path", "/m"), (":authority", "a")] },
        { "unknown pseudo-header", H2Client.Request("/m", "GET", (":foo", "bar")) },
        { "response pseudo-header", H2Client.Request("/m", "GET", (":status", "200")) },
        { "repeated :path", [(":method", "GET"), (":scheme", "http"), (":path", "/m"), (":path", "/n")] },
        { "missing :path", [(":method", "GET"), (":scheme", "http"), (":authority", "a")] },
        { "missing :method", [(":scheme", "http"), (":path", "/m"), (":authority", "a")] },
        { "missing :scheme", [(":method", "GET"), (":path", "/m"), (":authority", "a")] },
        { "empty :path", [(":method", "GET"), (":scheme", "http"), (":path", ""), (":authority", "a")] },
        { "host disagreeing with :authority", H2Client.Request("/m", "GET", ("host", "elsewhere.test")) },
        { "field value with a newline", H2Client.Request("/m", "GET", ("x", "a\nb")) },
        { "content-length on a request with no DATA", H2Client.Request("/m", "POST", ("content-length", "4")) },
    };

    [Theory]
    [MemberData(nameof(MalformedRequests))]
    public async Task MalformedRequests_AreResetWithProtocolError_AndNeverReachTheUpstream(string why, (string, string)[] fields)
    {
        await using H2Client client = await ConnectAsync();

        await client.SendHeadersAsync(1, fields, endStream: true);
        H2Frame reset = await client.ExpectResetAsync(1);
        Assert.True(reset.ErrorCode == ProtocolError, why);

        // A stream error: the connection still serves the next stream.
        await client.SendHeadersAsync(3, H2Client.Request("/after"), endStream: true);
        Assert.Equal(200, (await client.ReadResponseAsync(3)).Status);
        Assert.Equal(["/after"], Upstream.Paths);
    }

    [Theory]
    [InlineData(3, 4)] // less DATA than content-length says
    [InlineData(5, 4)] // more
    public async Task ContentLength_DisagreeingWithData_IsResetWithProtocolError(int sent, int declared)
    {
        await using H2Client client = await ConnectAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/len", "POST", ("content-length", declared.ToString())), endStream: false);
        await client.SendDataAsync(1, new byte[sent], endStream: true);

        Assert.Equal(ProtocolError, (await client.ExpectResetAsync(1)).ErrorCode);
    }

    [Fact]
    public async Task ValidShapes_AreServed_PaddingPriorityContinuationTrailersAndEmptyData()
    {
        await using H2Client client = await ConnectAsync();
        byte[] block = H2Client.Encode(H2Client.Request("/shapes", "POST", ("content-length", "5"), ("x-long", new string('v', 300))));

        // HEADERS with PADDED and PRIORITY (ignored, RFC 9113 §5.3.2), the block split over two CONTINUATION frames.
        byte[] first = [3, 0x00, 0x00, 0x00, 0x00, 16, .. block[..100], 0, 0, 0];
        await client.SendFrameAsync(H2Frame.Headers, H2Frame.Padded | H2Frame.PriorityFlag, 1, first);
        await client.SendFrameAsync(H2Frame.Continuation, 0, 1, block[100..200]);
        await client.SendFrameAsync(H2Frame.Continuation, H2Frame.EndHeaders, 1, block[200..]);

        // An empty DATA frame, padded DATA, a PRIORITY frame, then trailers end the stream.
        await client.SendDataAsync(1, [], endStream: false);
        await client.SendFrameAsync(H2Frame.Data, H2Frame.Padded, 1, [4, .. "hello"u8.ToArray(), 0, 0, 0, 0]);
        await client.SendFrameAsync(H2Frame.Priority, 0, 1, [0, 0, 0, 0, 16]);
        await client.SendHeadersAsync(1, [("x-trailer", "t")], endStream: true);

        H2Response response = await client.ReadResponseAsync(1);
        Assert.Equal(200, response.Status);
        EchoResult echo = EchoResult.Parse(response.Text);
        Assert.Equal(5, echo.BodyLength);
        Assert.Equal(300, echo.Headers["x-long"].Length);
    }

    [Fact]
    public async Task PingAndSettings_AreAcknowledged_AndUnknownFramesIgnored()
    {
        await using H2Client client = await ConnectAsync();

        await client.SendFrameAsync(0xFA, 0, 0, [1, 2, 3]); // §5.5: an unknown frame type
        await client.SendFrameAsync(H2Frame.Ping, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]);
        H2Frame pong = await client.ExpectAsync(f => f.Type == H2Frame.Ping, "the PING ack");
        Assert.Equal(H2Frame.Ack, pong.Flags);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], pong.Payload);

        Assert.Contains(client.Seen, f => f.Type == H2Frame.Settings && f.Flags == H2Frame.Ack);
        H2Frame settings = client.Seen.First(f => f.Type == H2Frame.Settings && f.Flags == 0);
        Assert.Equal(0, settings.Payload.Length % 6);
    }

    public static TheoryData<string, byte[], uint> ConnectionErrors => new()
    {
        { "DATA on stream 0", H2Client.Frame(H2Frame.Data, 0, 0, [1]), ProtocolError },
        { "HEADERS on stream 0", H2Client.Frame(H2Frame.Headers, H2Frame.EndHeaders, 0, H2Client.Encode(H2Client.Request("/"))), ProtocolError },
        { "HEADERS on an even stream", H2Client.Frame(H2Frame.Headers, H2Frame.EndHeaders | H2Frame.EndStream, 2, H2Client.Encode(H2Client.Request("/"))), ProtocolError },
        { "DATA on an idle stream", H2Client.Frame(H2Frame.Data, 0, 7, [1]), ProtocolError },
        { "a frame over SETTINGS_MAX_FRAME_SIZE", H2Client.Frame(H2Frame.Data, 0, 1, new byte[16_385]), FrameSizeError },
        { "SETTINGS with a partial entry", H2Client.Frame(H2Frame.Settings, 0, 0, [0, 3, 0, 0, 0]), FrameSizeError },
        { "SETTINGS ack with a payload", H2Client.Frame(H2Frame.Settings, H2Frame.Ack, 0, [0, 3, 0, 0, 0, 1]), FrameSizeError },
        { "SETTINGS on a stream", H2Client.Frame(H2Frame.Settings, 0, 1, []), ProtocolError },
        { "ENABLE_PUSH of 2", H2Client.Frame(H2Frame.Settings, 0, 0, [0, 2, 0, 0, 0, 2]), ProtocolError },
        { "INITIAL_WINDOW_SIZE past 2^31-1", H2Client.Frame(H2Frame.Settings, 0, 0, [0, 4, 0x80, 0, 0, 0]), FlowControlError },
        { "MAX_FRAME_SIZE under 16384", H2Client.Frame(H2Frame.Settings, 0, 0, [0, 5, 0, 0, 0x3F, 0xFF]), ProtocolError },
        { "PING of 7 bytes", H2Client.Frame(H2Frame.Ping, 0, 0, new byte[7]), FrameSizeError },
        { "PING on a stream", H2Client.Frame(H2Frame.Ping, 0, 1, new byte[8]), ProtocolError },
        { "WINDOW_UPDATE of 0 on the connection", H2Client.Frame(H2Frame.WindowUpdate, 0, 0, [0, 0, 0, 0]), ProtocolError },
        { "WINDOW_UPDATE of 3 bytes", H2Client.Frame(H2Frame.WindowUpdate, 0, 0, [0, 0, 1]), FrameSizeError },
        { "a connection window past 2^31-1", H2Client.Frame(H2Frame.WindowUpdate, 0, 0, [0x7F, 0xFF, 0xFF, 0xFF]), FlowControlError },
        { "RST_STREAM on stream 0", H2Client.Frame(H2Frame.RstStream, 0, 0, [0, 0, 0, 8]), ProtocolError },
        { "RST_STREAM on an idle stream", H2Client.Frame(H2Frame.RstStream, 0, 9, [0, 0, 0, 8]), ProtocolError },
        { "CONTINUATION with no header block", H2Client.Frame(H2Frame.Continuation, H2Frame.EndHeaders, 1, []), ProtocolError },
        { "PUSH_PROMISE from a client", H2Client.Frame(H2Frame.PushPromise, H2Frame.EndHeaders, 1, [0, 0, 0, 2]), ProtocolError },
        { "GOAWAY on a stream", H2Client.Frame(H2Frame.GoAway, 0, 1, new byte[8]), ProtocolError },
        { "padding as long as the frame", H2Client.Frame(H2Frame.Data, H2Frame.Padded, 1, [5, 1, 2]), ProtocolError },
        { "an undecodable header block", H2Client.Frame(H2Frame.Headers, H2Frame.EndHeaders | H2Frame.EndStream, 1, [0x80]), CompressionError },
    };

    [Theory]
    [MemberData(nameof(ConnectionErrors))]
    public async Task FrameViolations_AreConnectionErrors_WithTheirCode(string why, byte[] frame, uint code)
    {
        await ExpectConnectionErrorAsync(why, frame, code);
        Assert.Equal(0, Upstream.RequestCount);
    }

    [Fact]
    public async Task AHeaderBlockInterrupted_ByAnotherFrame_IsAConnectionError()
    {
        await using H2Client client = await ConnectAsync();

        await client.SendHeadersAsync(1, H2Client.Request("/"), endStream: true, endHeaders: false);
        await client.SendFrameAsync(H2Frame.Ping, 0, 0, new byte[8]);

        Assert.Equal(ProtocolError, (await client.ExpectGoAwayAsync()).ErrorCode);
    }

    [Fact]
    public async Task AWrongPreface_IsAConnectionError()
    {
        await using H2Client client = await ConnectAsync(preface: false);

        // The first line is right (the gateway took the connection for HTTP/2), the rest is not.
        await client.SendRawAsync("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"u8.ToArray());

        Assert.Equal(ProtocolError, (await client.ExpectGoAwayAsync()).ErrorCode);
    }

    [Fact]
    public async Task TheFirstFrame_MustBeSettings()
    {
        await using H2Client client = await ConnectAsync(preface: false);

        await client.SendRawAsync([.. H2Client.Preface, .. H2Client.Frame(H2Frame.Ping, 0, 0, new byte[8])]);

        Assert.Equal(ProtocolError, (await client.ExpectGoAwayAsync()).ErrorCode);
    }

    [Fact]
    public async Task StreamIds_MustIncrease()
    {
        await using H2Client client = await ConnectAsync();
        await client.SendHeadersAsync(5, H2Client.Request("/a"), endStream: true);
        await client.ReadResponseAsync(5);

        await client.SendHeadersAsync(3, H2Client.Request("/b"), endStream: true);

        H2Frame goAway = await client.ExpectGoAwayAsync();
        Assert.Contains(goAway.ErrorCode, new[] { ProtocolError, StreamClosed });
        Assert.Equal(5, goAway.LastStreamId);
    }

    [Fact]
    public async Task DataAfterEndStream_IsAStreamErrorOfStreamClosed()
    {
        await using H2Client client = await ConnectAsync();
        Upstream.Delay = TimeSpan.FromMilliseconds(200);

        await client.SendHeadersAsync(1, H2Client.Request("/slowish"), endStream: true);
        await client.SendDataAsync(1, [1, 2], endStream: false);

        Assert.Equal(StreamClosed, (await client.ExpectResetAsync(1)).ErrorCode);
    }

    [Fact]
    public async Task WindowUpdateOfZero_OnAStream_IsAStreamError()
    {
        await using H2Client client = await ConnectAsync();
        await client.SendHeadersAsync(1, H2Client.Request("/w", "POST"), endStream: false);

        await client.SendWindowUpdateAsync(1, 0);

        Assert.Equal(ProtocolError, (await client.ExpectResetAsync(1)).ErrorCode);
    }

    [Fact]
    public async Task AStreamDependingOnItself_IsAStreamError()
    {
        await using H2Client client = await ConnectAsync();

        await client.SendFrameAsync(H2Frame.Priority, 0, 1, [0, 0, 0, 1, 16]);

        Assert.Equal(ProtocolError, (await client.ExpectResetAsync(1)).ErrorCode);
    }

    [Fact]
    public async Task ClientGoAway_LetsOpenStreamsFinish()
    {
        await using H2Client client = await ConnectAsync();
        await client.SendHeadersAsync(1, H2Client.Request("/before"), endStream: true);
        await client.SendFrameAsync(H2Frame.GoAway, 0, 0, [0, 0, 0, 0, 0, 0, 0, 0]);

        Assert.Equal(200, (await client.ReadResponseAsync(1)).Status);
        H2Frame goAway = await client.ExpectGoAwayAsync();
        Assert.Equal(NoError, goAway.ErrorCode);
    }
}
