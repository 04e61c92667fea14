using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using HyperGate.Http2.Hpack;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>One HTTP/2 frame as received.</summary>
public sealed record H2Frame(byte Type, byte Flags, int Stream, byte[] Payload)
{
    public const byte Data = 0, Headers = 1, Priority = 2, RstStream = 3, Settings = 4, PushPromise = 5, Ping = 6, GoAway = 7, WindowUpdate = 8, Continuation = 9;
    public const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, PriorityFlag = 0x20;

    /// <summary>The error code of RST_STREAM or GOAWAY.</summary>
    public uint ErrorCode => BinaryPrimitives.ReadUInt32BigEndian(Type == GoAway ? Payload.AsSpan(4) : Payload);

    public int LastStreamId => (int)BinaryPrimitives.ReadUInt32BigEndian(Payload) & 0x7FFF_FFFF;
}

/// <summary>A response read off one stream: its final head, its body and any trailers.</summary>
public sealed record H2Response(int Status, Dictionary<string, string> Headers, byte[] Body, Dictionary<string, string>? Trailers)
{
    public string Text => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A raw HTTP/2 client for tests: it sends exactly the frames a test writes, valid or not, and reads every frame the
/// gateway sends. Header blocks it sends are literals without indexing and without Huffman coding (RFC 7541 §6.2.2),
/// encoded here, independent of the gateway's encoder.
/// </summary>
public sealed class H2Client : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private readonly HpackDecoder _decoder = new(4096, 1 << 20);

    private H2Client(TcpClient tcp, Stream stream)
    {
        _tcp = tcp;
        _stream = stream;
    }

    public static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    /// <summary>Connects, and unless told otherwise sends the preface and an empty SETTINGS frame (optionally with settings).</summary>
    public static async Task<H2Client> ConnectAsync(IPEndPoint endPoint, bool preface = true, (ushort Id, uint Value)[]? settings = null, string? tlsHost = null)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(endPoint);
        Stream stream = tcp.GetStream();
        if (tlsHost is not null)
        {
            var ssl = new SslStream(stream);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = tlsHost,
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            });
            stream = ssl;
        }

        var client = new H2Client(tcp, stream);
        if (preface)
        {
            await client.SendRawAsync(Preface);
            await client.SendSettingsAsync(settings ?? []);
        }

        return client;
    }

    /// <summary>The server side of an accepted connection (an HTTP/2 upstream a test plays): nothing is sent yet.</summary>
    public static H2Client Accepted(TcpClient tcp) => new(tcp, tcp.GetStream());

    /// <summary>As the server: reads the client preface; false when the bytes are not it.</summary>
    public async Task<bool> ReadClientPrefaceAsync()
    {
        byte[] preface = new byte[Preface.Length];
        return await ReadExactlyAsync(preface, CancellationToken.None) && preface.AsSpan().SequenceEqual(Preface);
    }

    public async Task SendRawAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    public Task SendFrameAsync(byte type, byte flags, int stream, byte[] payload) => SendRawAsync(Frame(type, flags, stream, payload));

    public static byte[] Frame(byte type, byte flags, int stream, byte[] payload)
    {
        byte[] frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), stream);
        payload.CopyTo(frame, 9);
        return frame;
    }

    public Task SendSettingsAsync(params (ushort Id, uint Value)[] settings)
    {
        byte[] payload = new byte[settings.Length * 6];
        for (int i = 0; i < settings.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(i * 6), settings[i].Id);
            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(i * 6 + 2), settings[i].Value);
        }

        return SendFrameAsync(H2Frame.Settings, 0, 0, payload);
    }

    public Task SendHeadersAsync(int stream, IEnumerable<(string Name, string Value)> fields, bool endStream, bool endHeaders = true) =>
        SendFrameAsync(H2Frame.Headers, (byte)((endStream ? H2Frame.EndStream : 0) | (endHeaders ? H2Frame.EndHeaders : 0)), stream, Encode(fields));

    public Task SendDataAsync(int stream, byte[] data, bool endStream) => SendFrameAsync(H2Frame.Data, endStream ? H2Frame.EndStream : (byte)0, stream, data);

    public Task SendRstStreamAsync(int stream, uint error = 8) => SendFrameAsync(H2Frame.RstStream, 0, stream, BigEndian(error));

    public Task SendWindowUpdateAsync(int stream, uint increment) => SendFrameAsync(H2Frame.WindowUpdate, 0, stream, BigEndian(increment));

    public static byte[] BigEndian(uint value)
    {
        byte[] bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    /// <summary>The request fields of a GET to <paramref name="path"/>, then <paramref name="extra"/>.</summary>
    public static (string, string)[] Request(string path, string method = "GET", params (string, string)[] extra) =>
        [(":method", method), (":scheme", "http"), (":authority", "gateway.test"), (":path", path), .. extra];

    /// <summary>Literal fields without indexing, new names, no Huffman: RFC 7541 §6.2.2 and §5.</summary>
    public static byte[] Encode(IEnumerable<(string Name, string Value)> fields)
    {
        var block = new List<byte>();
        foreach ((string name, string value) in fields)
        {
            block.Add(0x00);
            AppendString(block, Encoding.Latin1.GetBytes(name));
            AppendString(block, Encoding.Latin1.GetBytes(value));
        }

        return [.. block];
    }

    private static void AppendString(List<byte> block, byte[] text)
    {
        // §5.1 with a 7-bit prefix, H = 0.
        int length = text.Length;
        if (length < 127)
        {
            block.Add((byte)length);
        }
        else
        {
            block.Add(127);
            length -= 127;
            while (length >= 128)
            {
                block.Add((byte)(length % 128 + 128));
                length /= 128;
            }

            block.Add((byte)length);
        }

        block.AddRange(text);
    }

    /// <summary>The next frame, or null when the connection closed.</summary>
    public async Task<H2Frame?> ReadFrameAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        byte[] header = new byte[9];
        try
        {
            if (!await ReadExactlyAsync(header, cancel.Token))
            {
                return null;
            }

            int length = header[0] << 16 | header[1] << 8 | header[2];
            byte[] payload = new byte[length];
            if (!await ReadExactlyAsync(payload, cancel.Token))
            {
                return null;
            }

            return new H2Frame(header[3], header[4], BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7FFF_FFFF, payload);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            return null;
        }
    }

    private async Task<bool> ReadExactlyAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int count = await _stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
            if (count == 0)
            {
                return false;
            }

            read += count;
        }

        return true;
    }

    /// <summary>
    /// The first frame that matches, from those read earlier for other expectations (<see cref="Seen"/>) or else
    /// read now (the others are kept in <see cref="Seen"/>); fails when the connection ends first.
    /// </summary>
    public async Task<H2Frame> ExpectAsync(Func<H2Frame, bool> match, string what, TimeSpan? timeout = null)
    {
        int earlier = Seen.FindIndex(f => match(f));
        if (earlier >= 0)
        {
            H2Frame frame = Seen[earlier];
            Seen.RemoveAt(earlier);
            return frame;
        }

        while (true)
        {
            H2Frame? frame = await ReadFrameAsync(timeout);
            Assert.True(frame is not null, $"the connection ended before {what}; frames seen: {string.Join(", ", Seen.Select(f => $"{f.Type}/{f.Stream}"))}");
            if (match(frame))
            {
                return frame;
            }

            Seen.Add(frame);
        }
    }

    public List<H2Frame> Seen { get; } = [];

    public Task<H2Frame> ExpectGoAwayAsync() => ExpectAsync(f => f.Type == H2Frame.GoAway, "GOAWAY");

    public Task<H2Frame> ExpectResetAsync(int stream) => ExpectAsync(f => f.Type == H2Frame.RstStream && f.Stream == stream, $"RST_STREAM on {stream}");

    /// <summary>True when the gateway closes the connection (after whatever it sends first).</summary>
    public async Task<bool> ClosedAsync()
    {
        while (await ReadFrameAsync() is { } frame)
        {
            Seen.Add(frame);
        }

        return true;
    }

    /// <summary>Reads one stream's response: interim heads skipped, the final head, DATA to END_STREAM, trailers.</summary>
    public async Task<H2Response> ReadResponseAsync(int stream)
    {
        Dictionary<string, string>? head = null;
        Dictionary<string, string>? trailers = null;
        var body = new MemoryStream();
        while (true)
        {
            H2Frame frame = await ExpectAsync(f => f.Stream == stream && f.Type is H2Frame.Headers or H2Frame.Continuation or H2Frame.Data or H2Frame.RstStream, $"a response on {stream}");
            if (frame.Type == H2Frame.RstStream)
            {
                Assert.Fail($"stream {stream} was reset with error code {frame.ErrorCode}");
            }

            if (frame.Type == H2Frame.Data)
            {
                body.Write(frame.Payload);
            }
            else
            {
                byte[] block = frame.Payload;
                H2Frame last = frame;
                while ((last.Flags & H2Frame.EndHeaders) == 0)
                {
                    last = await ExpectAsync(f => f.Stream == stream && f.Type == H2Frame.Continuation, "CONTINUATION");
                    block = [.. block, .. last.Payload];
                }

                var fields = new FieldCollector();
                Assert.Equal(HpackResult.Ok, _decoder.Decode(block, fields));
                if (head is null && fields.Fields.TryGetValue(":status", out string? status) && status[0] == '1')
                {
                    continue;
                }

                if (head is null)
                {
                    head = fields.Fields;
                }
                else
                {
                    trailers = fields.Fields;
                }
            }

            if ((frame.Flags & H2Frame.EndStream) != 0)
            {
                Assert.NotNull(head);
                return new H2Response(int.Parse(head[":status"]), head, body.ToArray(), trailers);
            }
        }
    }

    private sealed class FieldCollector : IHeaderFieldSink
    {
        public Dictionary<string, string> Fields { get; } = [];

        public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => Fields[Encoding.Latin1.GetString(name)] = Encoding.Latin1.GetString(value);
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
