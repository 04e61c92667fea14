using System.Buffers;
using BenchmarkDotNet.Attributes;
using HyperGate.Http1;

namespace HyperGate.Benchmarks.Http1;

/// <summary>Request head parsing; the baseline is the smallest head in one segment.</summary>
[MemoryDiagnoser]
public class RequestHeadParserBenchmarks
{
    private readonly RequestHead _head = new();
    private ReadOnlySequence<byte> _curl;
    private ReadOnlySequence<byte> _browser;
    private ReadOnlySequence<byte> _api;
    private ReadOnlySequence<byte> _browserSplit;
    private ReadOnlySequence<byte> _apiSplit;

    [GlobalSetup]
    public void Setup()
    {
        _curl = new ReadOnlySequence<byte>(SampleRequests.Curl);
        _browser = new ReadOnlySequence<byte>(SampleRequests.Browser);
        _api = new ReadOnlySequence<byte>(SampleRequests.ApiWithToken);
        _browserSplit = Segments.SplitInto(SampleRequests.Browser, 4);
        _apiSplit = Segments.SplitInto(SampleRequests.ApiWithToken, 4);
    }

    [Benchmark(Baseline = true), HotPath]
    public ParseStatus Curl80Bytes() => Parse(_curl);

    [Benchmark, HotPath]
    public ParseStatus Browser700Bytes() => Parse(_browser);

    [Benchmark, HotPath]
    public ParseStatus ApiWith1KBToken() => Parse(_api);

    [Benchmark, HotPath]
    public ParseStatus Browser700Bytes_FourSegments() => Parse(_browserSplit);

    [Benchmark, HotPath]
    public ParseStatus ApiWith1KBToken_FourSegments() => Parse(_apiSplit);

    private ParseStatus Parse(in ReadOnlySequence<byte> buffer) =>
        RequestHeadParser.TryParse(buffer, _head, HeadLimits.Default, out _, out _, out _);
}
