using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using HyperGate.Configuration;
using HyperGate.Hosting;
using HyperGate.Http2;
using HyperGate.Http2.Hpack;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Benchmarks.Http2;

/// <summary>
/// One HTTP/2 request stream in memory, frame in to frame out: the client's HEADERS (and the WINDOW_UPDATE a client
/// sends for what it read) go into the connection's input, the frame loop decodes HPACK, checks the fields, takes a
/// stream from the pool, runs the exchange pipeline (a route the gateway answers itself) and frames the response;
/// the benchmark reads frames until its stream ends. Every pipe resumes its reader inline, so one call is one
/// whole request. The goal is 0 bytes allocated per stream.
/// </summary>
[MemoryDiagnoser]
public class Http2StreamBenchmarks
{
    private static readonly PipeOptions Inline = new(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 0, useSynchronizationContext: false);
    private readonly Pipe _client = new(Inline);
    private readonly Pipe _server = new(Inline);
    private GatewayRuntime _runtime = null!;
    private Task _serving = null!;
    private byte[] _block = [];
    private int _streamId = 1;

    [GlobalSetup]
    public void Setup()
    {
        _runtime = GatewayRuntime.Create(ConfigLoader.Parse("""
            [server]
            listen = ["127.0.0.1:8080"]
            [routes.hello]
            path = "/hello"
            respond = { status = 200, body = "hello" }
            """, "bench.toml"), TimeProvider.System, NullLoggerFactory.Instance);
        var connection = new Http2Connection(_runtime, new ExchangeStreamPool(), _runtime.Snapshot.Config.Http2, _client.Reader, _server.Writer, peer: null, tls: null);
        _serving = connection.ServeAsync();

        byte[] block = new byte[128];
        int length = 0;
        foreach ((string name, string value) in new[] { (":method", "GET"), (":scheme", "https"), (":authority", "api.example.com"), (":path", "/hello"), ("accept", "*/*") })
        {
            length += HpackEncoder.WriteField(System.Text.Encoding.ASCII.GetBytes(name), System.Text.Encoding.ASCII.GetBytes(value), block.AsSpan(length));
        }

        _block = block[..length];
        _client.Writer.Write(FrameWriter.ClientPreface);
        FrameWriter.WriteSettings(_client.Writer, []);
        _client.Writer.FlushAsync().GetAwaiter().GetResult();
        Drain(streamId: 0);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Writer.Complete();
        _serving.GetAwaiter().GetResult();
        _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark, HotPath]
    public int Stream()
    {
        int id = _streamId;
        _streamId += 2;
        new FrameHeader(_block.Length, FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStreamOrAck, id).Write(_client.Writer.GetSpan(FrameHeader.Size));
        _client.Writer.Advance(FrameHeader.Size);
        _client.Writer.Write(_block);
        _client.Writer.FlushAsync().GetAwaiter().GetResult();
        int body = Drain(id);

        // What the client read it gives back to the connection's window, as a client does.
        FrameWriter.WriteWindowUpdate(_client.Writer, 0, body);
        return body;
    }

    /// <summary>Reads the server's frames until <paramref name="streamId"/> ends (or, for 0, what is there); returns the DATA bytes read.</summary>
    private int Drain(int streamId)
    {
        int data = 0;
        while (true)
        {
            if (!_server.Reader.TryRead(out ReadResult read))
            {
                if (streamId == 0)
                {
                    return data;
                }

                throw new InvalidOperationException("the stream did not end within the call");
            }

            ReadOnlySequence<byte> buffer = read.Buffer;
            bool ended = false;
            while (buffer.Length >= FrameHeader.Size && FrameHeader.Read(buffer) is var header && buffer.Length >= FrameHeader.Size + header.Length)
            {
                if (header.Type == FrameType.Data)
                {
                    data += header.Length;
                }

                ended |= header.StreamId == streamId && streamId != 0 && header.Has(FrameFlags.EndStreamOrAck) && header.Type is FrameType.Data or FrameType.Headers;
                buffer = buffer.Slice(FrameHeader.Size + header.Length);
            }

            _server.Reader.AdvanceTo(buffer.Start, buffer.End);
            if (ended || streamId == 0)
            {
                return data;
            }
        }
    }
}
