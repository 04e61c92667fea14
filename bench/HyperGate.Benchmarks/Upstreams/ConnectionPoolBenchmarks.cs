using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using HyperGate.Upstreams;

namespace HyperGate.Benchmarks.Upstreams;

/// <summary>Renting and returning a pooled connection (a real loopback connection).</summary>
[MemoryDiagnoser]
public class ConnectionPoolBenchmarks
{
    private TcpListener _listener = null!;
    private UpstreamConnectionManager _manager = null!;
    private ConnectionPool _pool = null!;

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
        _pool.Return(connection, reusable: true);
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
        _pool.Return(connection, reusable: true);
        return exchanges;
    }
}
