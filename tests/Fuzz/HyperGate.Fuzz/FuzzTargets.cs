using System.Buffers;
using System.IO.Pipelines;
using HyperGate.Configuration;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Http2;
using HyperGate.Http2.Hpack;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Fuzz;

/// <summary>
/// What the fuzzer drives. Each target must never throw on any input; where two code paths must agree
/// (contiguous and segmented parsing), a disagreement is thrown as a finding too.
/// </summary>
public static class FuzzTargets
{
    private static readonly HeadLimits Limits = new(8 * 1024, 64, 2 * 1024);

    public static void Run(string target, byte[] input)
    {
        switch (target)
        {
            case "request": RequestHead(input); break;
            case "response": ResponseHead(input); break;
            case "chunked": Chunked(input); break;
            case "hpack": Hpack(input); break;
            case "h2": Http2Connection(input); break;
            default: throw new ArgumentException($"unknown target {target}; use request, response, chunked, hpack or h2");
        }
    }

    /// <summary>The request-head parser, then path normalization, as the request loop runs them.</summary>
    public static void RequestHead(byte[] input)
    {
        using var contiguous = new RequestHead();
        using var segmented = new RequestHead();
        ParseStatus a = RequestHeadParser.TryParse(new ReadOnlySequence<byte>(input), contiguous, Limits, out _, out _, out RejectionReason ra);
        ParseStatus b = RequestHeadParser.TryParse(Split(input), segmented, Limits, out _, out _, out RejectionReason rb);
        Agree(a, ra, b, rb);
        if (a == ParseStatus.Complete)
        {
            RejectionReason path = contiguous.NormalizePath();
            if (path == RejectionReason.None && (contiguous.NormalizedPath.IsEmpty || contiguous.NormalizedPath[0] != '/'))
            {
                throw new InvalidOperationException("a normalized path must start with /");
            }
        }
    }

    public static void ResponseHead(byte[] input)
    {
        using var contiguous = new ResponseHead();
        using var segmented = new ResponseHead();
        ParseStatus a = ResponseHeadParser.TryParse(new ReadOnlySequence<byte>(input), contiguous, Limits, out _, out _, out RejectionReason ra);
        ParseStatus b = ResponseHeadParser.TryParse(Split(input), segmented, Limits, out _, out _, out RejectionReason rb);
        Agree(a, ra, b, rb);
        if (a == ParseStatus.Complete)
        {
            _ = contiguous.GetBodyFraming(HttpMethod.Get);
        }
    }

    /// <summary>The chunked decoder, fed in two writes, writing to a pipe that is drained.</summary>
    public static void Chunked(byte[] input)
    {
        var source = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var destination = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        int half = input.Length / 2;
        source.Writer.Write(input.AsSpan(0, half));
        source.Writer.FlushAsync().GetAwaiter().GetResult();
        source.Writer.Write(input.AsSpan(half));
        source.Writer.Complete();
        ChunkedBody.CopyAsync(source.Reader, destination.Writer, 1 << 20, dechunk: false, guard: null, CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>
    /// The HPACK decoder on the input as a header block, twice on one decoder (the second decoding starts from the
    /// table the first left); what decodes must encode and decode back to the same fields. The input as a Huffman
    /// string: a valid one re-encodes to the same bytes (the code and its padding leave no choice).
    /// </summary>
    public static void Hpack(byte[] input)
    {
        var decoder = new HpackDecoder(256, 4096);
        for (int pass = 0; pass < 2; pass++)
        {
            var fields = new FieldList();
            if (decoder.Decode(input, fields) != HpackResult.Ok)
            {
                break;
            }

            byte[] block = new byte[fields.Fields.Sum(f => HpackEncoder.MaxFieldLength(f.Name.Length, f.Value.Length))];
            int length = 0;
            foreach ((byte[] name, byte[] value) in fields.Fields)
            {
                length += HpackEncoder.WriteField(name, value, block.AsSpan(length));
            }

            var again = new FieldList();
            if (new HpackDecoder(256, 4096).Decode(block.AsSpan(0, length), again) != HpackResult.Ok
                || !again.Fields.Select(f => (Convert.ToHexString(f.Name), Convert.ToHexString(f.Value))).SequenceEqual(fields.Fields.Select(f => (Convert.ToHexString(f.Name), Convert.ToHexString(f.Value)))))
            {
                throw new InvalidOperationException("decoded fields did not survive encoding and decoding");
            }
        }

        byte[] decoded = new byte[input.Length * 8 / 5 + 1];
        if (Huffman.TryDecode(input, decoded, out int written))
        {
            byte[] encoded = new byte[Huffman.EncodedLength(decoded.AsSpan(0, written))];
            Huffman.Encode(decoded.AsSpan(0, written), encoded);
            if (!encoded.AsSpan().SequenceEqual(input))
            {
                throw new InvalidOperationException("a valid Huffman string did not re-encode to itself");
            }
        }
    }

    private sealed class FieldList : IHeaderFieldSink
    {
        public List<(byte[] Name, byte[] Value)> Fields { get; } = [];

        public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => Fields.Add((name.ToArray(), value.ToArray()));
    }

    private static readonly Lazy<GatewayRuntime> Runtime = new(() => GatewayRuntime.Create(ConfigLoader.Parse("""
        [server]
        listen = ["127.0.0.1:0"]
        [http2]
        h2c = true
        max_concurrent_streams = 8
        [routes.hello]
        path_prefix = "/"
        respond = { status = 200, body = "hello" }
        """, "fuzz.toml"), TimeProvider.System, NullLoggerFactory.Instance));

    /// <summary>
    /// A whole HTTP/2 connection: the client preface, then the input as the client's bytes, through frames, HPACK,
    /// request fields and the exchange pipeline (a route the gateway answers itself), until the input ends. Nothing
    /// the client sends may make it throw.
    /// </summary>
    public static void Http2Connection(byte[] input)
    {
        var client = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var server = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        client.Writer.Write(FrameWriter.ClientPreface);
        client.Writer.Write(input);
        client.Writer.Complete();
        GatewayRuntime runtime = Runtime.Value;
        var connection = new Http2.Http2Connection(runtime, new Http2.ExchangeStreamPool(), runtime.Snapshot.Config.Http2, client.Reader, server.Writer, peer: null, tls: null);
        if (!connection.ServeAsync().Wait(TimeSpan.FromSeconds(10)))
        {
            throw new TimeoutException("the connection did not end after its input did");
        }
    }

    private static void Agree(ParseStatus a, RejectionReason ra, ParseStatus b, RejectionReason rb)
    {
        if (a != b || ra != rb)
        {
            throw new InvalidOperationException($"contiguous gave {a}/{ra}, segmented gave {b}/{rb}");
        }
    }

    /// <summary>The same bytes in three segments, cut at points the input itself chooses.</summary>
    private static ReadOnlySequence<byte> Split(byte[] input)
    {
        if (input.Length < 3)
        {
            return new ReadOnlySequence<byte>(input);
        }

        int first = 1 + (input[0] % (input.Length - 2));
        int second = first + 1 + (input[^1] % (input.Length - first - 1));
        var a = new Segment(input.AsMemory(0, first), 0);
        Segment b = a.Append(input.AsMemory(first, second - first));
        Segment c = b.Append(input.AsMemory(second));
        return new ReadOnlySequence<byte>(a, 0, c, c.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
