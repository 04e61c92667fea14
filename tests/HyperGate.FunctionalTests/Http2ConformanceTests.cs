using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>
/// RFC 9113 and RFC 7541 section by section: the cases a conformance suite tries beyond the protocol tests (flags
/// and reserved bits ignored, frame sizes, stream states of §5.1, frames inside a header block, HPACK's decoding
/// errors, trailers, unknown error codes), each with the section that rules it.
/// </summary>
public sealed class Http2ConformanceTests : H2cGatewayTests
{
    private static readonly byte[] Get = H2Client.Encode(H2Client.Request("/c"));

    /// <summary>A HEADERS frame on stream 1 carrying <paramref name="block"/> as a whole request.</summary>
    private static byte[] Block(params byte[] block) => H2Client.Frame(H2Frame.Headers, H2Frame.EndHeaders | H2Frame.EndStream, 1, block);

    private static byte[] Frames(params byte[][] frames) => [.. frames.SelectMany(frame => frame)];

    public static TheoryData<string, byte[], uint> ConnectionErrors => new()
    {
        { "§4.2: HEADERS over SETTINGS_MAX_FRAME_SIZE", H2Client.Frame(H2Frame.Headers, H2Frame.EndHeaders | H2Frame.EndStream, 1, new byte[16_385]), FrameSizeError },
        { "§6.3: PRIORITY on stream 0", H2Client.Frame(H2Frame.Priority, 0, 0, [0, 0, 0, 1, 16]), ProtocolError },
        { "§6.5.2: MAX_FRAME_SIZE past 2^24-1", H2Client.Frame(H2Frame.Settings, 0, 0, [0, 5, 1, 0, 0, 0]), ProtocolError },
        { "§5.1: WINDOW_UPDATE on an idle stream", H2Client.Frame(H2Frame.WindowUpdate, 0, 1, [0, 0, 0, 1]), ProtocolError },
        { "§6.2: HEADERS padded past its end", H2Client.Frame(H2Frame.Headers, H2Frame.Padded | H2Frame.EndHeaders | H2Frame.EndStream, 1, [(byte)(Get.Length + 1), .. Get]), ProtocolError },
        { "§6.10: CONTINUATION on stream 0 inside a header block", Frames(H2Client.Frame(H2Frame.Headers, H2Frame.EndStream, 1, Get), H2Client.Frame(H2Frame.Continuation, H2Frame.EndHeaders, 0, [])), ProtocolError },
        { "§6.10: CONTINUATION after END_HEADERS", Frames(Block(Get), H2Client.Frame(H2Frame.Continuation, H2Frame.EndHeaders, 1, Get)), ProtocolError },
        { "§5.5: an unknown frame inside a header block", Frames(H2Client.Frame(H2Frame.Headers, H2Frame.EndStream, 1, Get), H2Client.Frame(0xFA, 0, 0, [1])), ProtocolError },
        { "§6.2: another stream's HEADERS inside a header block", Frames(H2Client.Frame(H2Frame.Headers, H2Frame.EndStream, 1, Get), H2Client.Frame(H2Frame.Headers, H2Frame.EndHeaders | H2Frame.EndStream, 3, Get)), ProtocolError },
        { "RFC 7541 §2.3.3: an index past both tables", Block(0xBE), CompressionError },
        { "RFC 7541 §6.3: a table size past SETTINGS_HEADER_TABLE_SIZE", Block(0x3F, 0xE2, 0x1F), CompressionError },
        { "RFC 7541 §4.2: a table size update after a field", Block(0x82, 0x20), CompressionError },
        { "RFC 7541 §5.2: EOS inside a Huffman string", Block(0x00, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x61), CompressionError },
        { "RFC 7541 §5.2: Huffman padding longer than 7 bits", Block(0x00, 0x82, 0x1F, 0xFF, 0x01, 0x61), CompressionError },
        { "RFC 7541 §5.2: Huffman padding other than the EOS code's first bits", Block(0x00, 0x81, 0x18, 0x01, 0x61), CompressionError },
    };

    [Theory]
    [MemberData(nameof(ConnectionErrors))]
    public Task Violations_AreConnectionErrors_WithTheirCode(string why, byte[] frames, uint code) => ExpectConnectionErrorAsync(why, frames, code);

    /// <summary>After a request whose body the upstream still waits for: stream 1 is open.</summary>
    private async Task<H2Client> ConnectWithAnOpenStreamAsync()
    {
        H2Client client = await ConnectAsync();
        await client.SendHeadersAsync(1, H2Client.Request("/open", "POST", ("content-length", "10")), endStream: false);
        return client;
    }

    public static TheoryData<string, byte[], uint> ErrorsOnAnOpenStream => new()
    {
        { "§6.4: RST_STREAM of 3 bytes (a connection error)", H2Client.Frame(H2Frame.RstStream, 0, 1, [0, 0, 8]), FrameSizeError },
        { "§6.3: PRIORITY of 4 bytes", H2Client.Frame(H2Frame.Priority, 0, 1, [0, 0, 0, 3]), FrameSizeError },
        { "§5.3.1: PRIORITY depending on its own stream", H2Client.Frame(H2Frame.Priority, 0, 1, [0, 0, 0, 1, 16]), ProtocolError },
        { "§6.9.1: a stream window past 2^31-1", H2Client.Frame(H2Frame.WindowUpdate, 0, 1, [0x7F, 0xFF, 0xFF, 0xFF]), FlowControlError },
        { "§8.1: trailers without END_STREAM", Frames(H2Client.Frame(H2Frame.Data, 0, 1, new byte[10]), H2Client.Frame(H2Frame.Headers, H2Frame.EndHeaders, 1, H2Client.Encode([("x-t", "1")]))), ProtocolError },
        { "§8.1: a pseudo-header in trailers", Frames(H2Client.Frame(H2Frame.Data, 0, 1, new byte[10]), H2Client.Frame(H2Frame.Headers, H2Frame.EndHeaders | H2Frame.EndStream, 1, H2Client.Encode([(":path", "/t")]))), ProtocolError },
        { "§5.1: DATA after the client reset the stream", Frames(H2Client.Frame(H2Frame.RstStream, 0, 1, [0, 0, 0, 8]), H2Client.Frame(H2Frame.Data, 0, 1, [1])), StreamClosed },
    };

    /// <summary>Stream errors, or where the RFC allows it the connection error: either way, the code is the one named.</summary>
    [Theory]
    [MemberData(nameof(ErrorsOnAnOpenStream))]
    public async Task ViolationsOnAnOpenStream_AreAnsweredWithTheirCode(string why, byte[] frames, uint code)
    {
        await using H2Client client = await ConnectWithAnOpenStreamAsync();

        await client.SendRawAsync(frames);
        H2Frame error = await client.ExpectAsync(f => f.Type == H2Frame.GoAway || (f.Type == H2Frame.RstStream && f.Stream == 1), "RST_STREAM or GOAWAY");

        Assert.True(error.ErrorCode == code, $"{why}: expected {code}, got {error.ErrorCode} in {(error.Type == H2Frame.GoAway ? "GOAWAY" : "RST_STREAM")}");
    }

    [Fact]
    public async Task HeadersOnAHalfClosedStream_AreAStreamClosedError()
    {
        await using H2Client client = await ConnectAsync();
        Upstream.Delay = TimeSpan.FromMilliseconds(300);
        await client.SendHeadersAsync(1, H2Client.Request("/slow"), endStream: true);

        // §5.1: half-closed (remote): frames other than WINDOW_UPDATE, PRIORITY and RST_STREAM are STREAM_CLOSED.
        await client.SendHeadersAsync(1, [("x-late", "1")], endStream: true);

        H2Frame error = await client.ExpectAsync(f => f.Type == H2Frame.GoAway || (f.Type == H2Frame.RstStream && f.Stream == 1), "RST_STREAM or GOAWAY");
        Assert.Equal(StreamClosed, error.ErrorCode);
    }

    [Fact]
    public async Task UndefinedFlags_AndTheReservedBit_AreIgnored()
    {
        await using H2Client client = await ConnectAsync();

        // §4.1: flags a frame type does not define are ignored, and so is the stream identifier's reserved bit.
        await client.SendFrameAsync(H2Frame.Ping, 0xF6, 0, [1, 2, 3, 4, 5, 6, 7, 8]);
        H2Frame pong = await client.ExpectAsync(f => f.Type == H2Frame.Ping, "the PING ack");
        Assert.Equal(H2Frame.Ack, pong.Flags);
        await client.SendRawAsync(H2Client.Frame(H2Frame.Headers, H2Frame.EndHeaders | H2Frame.EndStream, unchecked((int)0x8000_0001), Get));

        Assert.Equal(200, (await client.ReadResponseAsync(1)).Status);
    }

    [Fact]
    public async Task ADataFrameOfTheLargestDefaultSize_IsAccepted()
    {
        await using H2Client client = await ConnectAsync();

        // §4.2: every endpoint must accept frames of up to 2^14 octets.
        await client.SendHeadersAsync(1, H2Client.Request("/big", "POST", ("content-length", "16384")), endStream: false);
        await client.SendDataAsync(1, new byte[16_384], endStream: true);

        H2Response response = await client.ReadResponseAsync(1);
        Assert.Equal(200, response.Status);
        Assert.Equal(16_384, EchoResult.Parse(response.Text).BodyLength);
    }

    [Fact]
    public async Task APingAck_GetsNoAnswer()
    {
        await using H2Client client = await ConnectAsync();

        // §6.7: a PING with ACK is not answered; the next PING the gateway sends back is the one that asked.
        await client.SendFrameAsync(H2Frame.Ping, H2Frame.Ack, 0, [9, 9, 9, 9, 9, 9, 9, 9]);
        await client.SendFrameAsync(H2Frame.Ping, 0, 0, [1, 1, 1, 1, 1, 1, 1, 1]);

        H2Frame pong = await client.ExpectAsync(f => f.Type == H2Frame.Ping, "a PING");
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1], pong.Payload);
    }

    [Fact]
    public async Task UnknownErrorCodes_TriggerNothingSpecial()
    {
        await using H2Client client = await ConnectWithAnOpenStreamAsync();

        // §7: unknown codes in RST_STREAM and GOAWAY are not errors of the frames that carry them.
        await client.SendRstStreamAsync(1, 0xFF);
        await client.SendFrameAsync(H2Frame.GoAway, 0, 0, [0, 0, 0, 0, 0, 0, 0, 0xFF]);
        await client.SendFrameAsync(H2Frame.Ping, 0, 0, [2, 2, 2, 2, 2, 2, 2, 2]);

        H2Frame pong = await client.ExpectAsync(f => f.Type == H2Frame.Ping, "the PING ack");
        Assert.Equal([2, 2, 2, 2, 2, 2, 2, 2], pong.Payload);
        Assert.DoesNotContain(client.Seen, f => f.Type == H2Frame.GoAway && f.ErrorCode != 0);
    }

    [Fact]
    public async Task OfARepeatedSetting_TheLastValueCounts()
    {
        // §6.5.3: values are processed in the order they appear; the window ends at 1, so DATA comes a byte at a time.
        await using H2Client client = await H2Client.ConnectAsync(Gateway.EndPoint, settings: [(4, 100), (4, 1)]);
        await client.SendHeadersAsync(1, H2Client.Request("/download?size=10"), endStream: true);

        H2Frame first = await client.ExpectAsync(f => f.Type == H2Frame.Data && f.Stream == 1, "the first DATA");
        Assert.Single(first.Payload);
    }

    [Fact]
    public async Task AWindowMadeNegative_BySettings_IsHonoured()
    {
        await using H2Client client = await H2Client.ConnectAsync(Gateway.EndPoint, settings: [(4, 3)]);
        await client.SendHeadersAsync(1, H2Client.Request("/download?size=10"), endStream: true);
        Assert.Equal(3, (await client.ExpectAsync(f => f.Type == H2Frame.Data && f.Stream == 1, "the first 3 bytes")).Payload.Length);

        // §6.9.2: lowering the initial window by 1 leaves the stream's at -1; a WINDOW_UPDATE of 2 lets 1 byte through.
        await client.SendSettingsAsync((4, 2));
        await client.SendWindowUpdateAsync(1, 2);

        H2Frame next = await client.ExpectAsync(f => f.Type == H2Frame.Data && f.Stream == 1, "the next DATA");
        Assert.Single(next.Payload);
    }

    [Fact]
    public async Task EveryHpackRepresentation_IsUnderstood_AndTheDynamicTableCarriesOver()
    {
        await using H2Client client = await ConnectAsync();

        // RFC 7541: a table size update at the block's start (§6.3), :method GET from the static table (§6.1),
        // :scheme and :path literal with incremental indexing on indexed names (§6.2.1), :authority the same with a
        // Huffman-coded value (Appendix C.4.1: "www.example.com"), and a new field never indexed (§6.2.3).
        byte[] first =
        [
            0x3F, 0xE1, 0x1F,
            0x82,
            0x46, 0x04, .. "http"u8,
            0x44, 0x06, .. "/hpack"u8,
            0x41, 0x8C, 0xF1, 0xE3, 0xC2, 0xE5, 0xF2, 0x3A, 0x6B, 0xA0, 0xAB, 0x90, 0xF4, 0xFF,
            0x10, 0x07, .. "x-never"u8, 0x03, .. "yes"u8,
        ];
        await client.SendFrameAsync(H2Frame.Headers, H2Frame.EndHeaders | H2Frame.EndStream, 1, first);
        EchoResult one = EchoResult.Parse((await client.ReadResponseAsync(1)).Text);

        // The second request names the same fields by their dynamic table indexes (§2.3.3): :authority is the
        // newest entry (62), :path the one before (63), :scheme the oldest (64).
        await client.SendFrameAsync(H2Frame.Headers, H2Frame.EndHeaders | H2Frame.EndStream, 3, [0x82, 0xC0, 0xBF, 0xBE]);
        EchoResult two = EchoResult.Parse((await client.ReadResponseAsync(3)).Text);

        Assert.Equal(("/hpack", "yes"), (one.Path, one.Headers["x-never"]));
        Assert.Equal("/hpack", two.Path);
        Assert.Equal(["www.example.com", "www.example.com"], [one.Headers["Host"], two.Headers["Host"]]);
    }

    [Fact]
    public async Task FramesAllowedOnIdleAndHalfClosedStreams_AreNotErrors()
    {
        await using H2Client client = await ConnectAsync();
        Upstream.Delay = TimeSpan.FromMilliseconds(200);

        // §5.1: PRIORITY may come on an idle stream; on a half-closed (remote) one, WINDOW_UPDATE and PRIORITY too.
        await client.SendFrameAsync(H2Frame.Priority, 0, 5, [0, 0, 0, 0, 16]);
        await client.SendHeadersAsync(1, H2Client.Request("/half"), endStream: true);
        await client.SendWindowUpdateAsync(1, 100);
        await client.SendFrameAsync(H2Frame.Priority, 0, 1, [0, 0, 0, 3, 16]);

        Assert.Equal(200, (await client.ReadResponseAsync(1)).Status);
        Assert.DoesNotContain(client.Seen, f => f.Type is H2Frame.GoAway or H2Frame.RstStream);

        // And the stream idle until now can still be opened.
        await client.SendHeadersAsync(5, H2Client.Request("/after-priority"), endStream: true);
        Assert.Equal(200, (await client.ReadResponseAsync(5)).Status);
    }

    [Fact]
    public async Task RequestShapesOfSection8_3_1_GetTheirAnswers()
    {
        await using H2Client client = await ConnectAsync();

        // No :authority, a Host field instead (what an intermediary translating HTTP/1.1 sends): served with that host.
        await client.SendHeadersAsync(1, [(":method", "GET"), (":scheme", "http"), (":path", "/no-authority"), ("host", "h.test")], endStream: true);
        EchoResult hosted = EchoResult.Parse((await client.ReadResponseAsync(1)).Text);
        Assert.Equal(("/no-authority", "h.test"), (hosted.Path, hosted.Headers["Host"]));

        // OPTIONS with :path "*" (the asterisk form) is a valid request and goes upstream.
        await client.SendHeadersAsync(3, [(":method", "OPTIONS"), (":scheme", "http"), (":authority", "a.test"), (":path", "*")], endStream: true);
        Assert.Equal(200, (await client.ReadResponseAsync(3)).Status);

        // CONNECT (§8.5: :method and :authority only) is well formed, and a method the gateway does not proxy.
        await client.SendHeadersAsync(5, [(":method", "CONNECT"), (":authority", "a.test:443")], endStream: false);
        Assert.Equal(405, (await client.ReadResponseAsync(5)).Status);

        // :authority must not carry userinfo: refused before any upstream sees it.
        await client.SendHeadersAsync(7, [(":method", "GET"), (":scheme", "http"), (":authority", "user@a.test"), (":path", "/userinfo")], endStream: true);
        Assert.Equal(400, (await client.ReadResponseAsync(7)).Status);
        Assert.DoesNotContain("/userinfo", Upstream.Paths);
    }
}
