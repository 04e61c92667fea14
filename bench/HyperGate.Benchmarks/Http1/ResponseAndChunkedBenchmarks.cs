using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using BenchmarkDotNet.Attributes;
using HyperGate.Http1;

namespace HyperGate.Benchmarks.Http1;

/// <summary>Upstream response head parsing and the chunked body decoder/re-encoder.</summary>
[MemoryDiagnoser]
public class ResponseAndChunkedBenchmarks
{
    private readonly ResponseHead _response = new();
    private readonly Pipe _source = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Pipe _destination = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private ReadOnlySequence<byte> _responseHead;
    private byte[] _chunkedBody = [];

    [GlobalSetup]
    public void Setup()
    {
        _responseHead = new ReadOnlySequence<byte>(SampleRequests.Response);
        var body = new StringBuilder();
        for (int i = 0; i < 16; i++)
        {
            body.Append("400;ext=1\r\n").Append('x', 1024).Append("\r\n");
        }

        _chunkedBody = Encoding.ASCII.GetBytes(body.Append("0\r\nX-Checksum: 1\r\n\r\n").ToString());
    }

    [Benchmark, HotPath]
    public ParseStatus ResponseHead() =>
        ResponseHeadParser.TryParse(_responseHead, _response, HeadLimits.Default, out _, out _, out _);

    /// <summary>16 KiB in 16 chunks, decoded and re-encoded through in-memory pipes (bytes/s = 16 KiB / time).</summary>
    [Benchmark, HotPath]
    public BodyCopyResult Chunked16KiB()
    {
        _source.Writer.Write(_chunkedBody);
        _source.Writer.FlushAsync().GetAwaiter().GetResult();
        BodyCopyResult result = ChunkedBody.CopyAsync(_source.Reader, _destination.Writer, long.MaxValue, dechunk: false, guard: null, CancellationToken.None).GetAwaiter().GetResult();
        ReadResult written = _destination.Reader.ReadAsync().GetAwaiter().GetResult();
        _destination.Reader.AdvanceTo(written.Buffer.End);
        return result;
    }
}
