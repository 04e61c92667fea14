using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using HyperGate.Upstreams;

namespace HyperGate.Benchmarks.Upstreams;

/// <summary>Renting and returning a pooled connection (a real loopback connection), and picking a destination.</summary>
[MemoryDiagnoser]
public class PoolAndBalancerBenchmarks
{
    private TcpListener _listener = null!;
    private UpstreamConnectionManager _manager = null!;
    private ConnectionPool _pool = null!;
    private Upstream _upstream = null!;

    [GlobalSetup]
    public void Setup()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        var endPoint = (IPEndPoint)_listener.LocalEndpoint;
        _manager = new UpstreamConnectionManager(TimeProvider.System);
        _pool = _manager.GetOrCreatePool(endPoint.ToString(), endPoint, UpstreamSettings.Default);

        // One warm connection, so the benchmark measures the pool rather than connect().
        UpstreamConnection connection = _pool.RentAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        _pool.ReturnAsync(connection, reusable: true).AsTask().GetAwaiter().GetResult();

        Destination[] destinations = Enumerable.Range(0, 4)
            .Select(i => new Destination($"127.0.0.1:{9000 + i}", new IPEndPoint(IPAddress.Loopback, 9000 + i), _pool))
            .ToArray();
        _upstream = new Upstream("bench", destinations, UpstreamSettings.Default);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _manager.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _listener.Stop();
    }

    [Benchmark, HotPath]
    public int RentAndReturn()
    {
        UpstreamConnection connection = _pool.RentAsync(CancellationToken.None).GetAwaiter().GetResult();
        int exchanges = connection.CompletedExchanges;
        _pool.ReturnAsync(connection, reusable: true).GetAwaiter().GetResult();
        return exchanges;
    }

    [Benchmark, HotPath]
    public Destination? RoundRobinPick() => _upstream.PickDestination();
}
