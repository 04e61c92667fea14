using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using HyperGate.Http1;
using HyperGate.Routing;

namespace HyperGate.Benchmarks.Routing;

/// <summary>Route lookup in tables of 10, 1 000 and 10 000 routes mixing hosts and prefixes, and the build time.</summary>
[MemoryDiagnoser]
public class RouteTableBenchmarks
{
    private readonly RequestHead _request = new();
    private RouteTable _table = null!;
    private Route[] _routes = [];

    [Params(10, 1_000, 10_000)]
    public int RouteCount { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _routes = BuildRoutes(RouteCount);
        _table = RouteTable.Build(_routes, out _);

        // A request for a route in the middle of the table, on a host with its own routes.
        int target = RouteCount / 2;
        string head = $"GET /service{target}/v1/items/42?x=1 HTTP/1.1\r\nHost: tenant{target % 10}.example.com\r\n\r\n";
        RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(head)), _request, HeadLimits.Default, out _, out _, out _);
        _request.NormalizePath();
    }

    internal static Route[] BuildRoutes(int count) => Enumerable.Range(0, count).Select(i => new Route
    {
        Name = $"route{i}",
        Host = (i % 3) switch { 0 => $"tenant{i % 10}.example.com", 1 => "*.example.com", _ => null },
        Path = $"/service{i}/v1",
        PathKind = PathMatchKind.Prefix,
    }).ToArray();

    [Benchmark, HotPath]
    public Route? Lookup() => _table.Match(_request).Route;

    [Benchmark]
    public RouteTable Build() => RouteTable.Build(_routes, out _);
}
