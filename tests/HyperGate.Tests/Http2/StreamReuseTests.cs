using System.Buffers;
using System.IO.Pipelines;
using HyperGate.Configuration;
using HyperGate.Hosting;
using HyperGate.Http2;
using HyperGate.Http2.Hpack;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Tests.Http2;

/// <summary>
/// Request streams outlive their connection: once a connection ended, its streams (with their exchange pipelines)
/// serve the streams of the next one, and answer them as new ones would.
/// </summary>
public sealed class StreamReuseTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private GatewayRuntime _runtime = null!;

    public Task InitializeAsync()
    {
        _runtime = GatewayRuntime.Create(ConfigLoader.Parse("""
            [server]
            listen = ["127.0.0.1:0"]
            [routes.hello]
            path_prefix = "/"
            respond = { status = 200, body = "hello" }
            """, "reuse.toml"), TimeProvider.System, NullLoggerFactory.Instance);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _runtime.DisposeAsync();

    [Fact]
    public async Task TheStreamsOfAnEndedConnection_ServeTheNextConnection()
    {
        var pool = new ExchangeStreamPool();

        List<string> first = await ServeAsync(pool, requests: 3);

        // As many streams as ran at once are kept (a stream the gateway answers at once may serve the next request
        // of its own connection already).
        int kept = pool.IdleStreams;
        Assert.InRange(kept, 1, 3);

        // The requests of a new connection are served by kept streams: none was made.
        List<string> second = await ServeAsync(pool, requests: kept);
        Assert.Equal(kept, pool.IdleStreams);

        Assert.Equal(["200 hello", "200 hello", "200 hello"], first);
        Assert.Equal(Enumerable.Repeat("200 hello", kept), second);
    }

    /// <summary>
    /// One connection: the preface, then <paramref name="requests"/> concurrent GET streams; once every answer ended,
    /// the client leaves. Returns each stream's status and body.
    /// </summary>
    private async Task<List<string>> ServeAsync(ExchangeStreamPool pool, int requests)
    {
        var client = new Pipe();
        var server = new Pipe();
        var connection = new Http2Connection(_runtime, pool, _runtime.Snapshot.Config.Http2, client.Reader, server.Writer, peer: null, tls: null);
        Task serving = connection.ServeAsync();

        client.Writer.Write(FrameWriter.ClientPreface);
        FrameWriter.WriteSettings(client.Writer, []);
        byte[] block = new byte[256];
        int length = 0;
        foreach ((string name, string value) in new[] { (":method", "GET"), (":scheme", "http"), (":authority", "api.test"), (":path", "/") })
        {
            length += HpackEncoder.WriteField(System.Text.Encoding.ASCII.GetBytes(name), System.Text.Encoding.ASCII.GetBytes(value), block.AsSpan(length));
        }

        for (int stream = 1; stream < 2 * requests; stream += 2)
        {
            new FrameHeader(length, FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStreamOrAck, stream).Write(client.Writer.GetSpan(FrameHeader.Size));
            client.Writer.Advance(FrameHeader.Size);
            client.Writer.Write(block.AsSpan(0, length));
        }

        await client.Writer.FlushAsync();
        var answers = new Dictionary<int, string>();
        var decoder = new HpackDecoder(4096, 16 * 1024);
        var ended = new HashSet<int>();
        while (ended.Count < requests)
        {
            ReadResult read = await server.Reader.ReadAsync().AsTask().WaitAsync(Patience);
            ReadOnlySequence<byte> buffer = read.Buffer;
            while (buffer.Length >= FrameHeader.Size && FrameHeader.Read(buffer) is var header && buffer.Length >= FrameHeader.Size + header.Length)
            {
                byte[] payload = buffer.Slice(FrameHeader.Size, header.Length).ToArray();
                buffer = buffer.Slice(FrameHeader.Size + header.Length);
                if (header.Type == FrameType.Headers)
                {
                    var status = new StatusSink();
                    Assert.Equal(HpackResult.Ok, decoder.Decode(payload, status));
                    answers[header.StreamId] = status.Status + " ";
                }
                else if (header.Type == FrameType.Data)
                {
                    answers[header.StreamId] += System.Text.Encoding.ASCII.GetString(payload);
                }

                if (header.Type is FrameType.Headers or FrameType.Data && header.Has(FrameFlags.EndStreamOrAck))
                {
                    ended.Add(header.StreamId);
                }
            }

            server.Reader.AdvanceTo(buffer.Start, buffer.End);
        }

        await client.Writer.CompleteAsync();
        await serving.WaitAsync(Patience);
        return [.. answers.OrderBy(answer => answer.Key).Select(answer => answer.Value)];
    }

    private sealed class StatusSink : IHeaderFieldSink
    {
        public string Status { get; private set; } = "";

        public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
            if (name.SequenceEqual(":status"u8))
            {
                Status = System.Text.Encoding.ASCII.GetString(value);
            }
        }
    }
}
