using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using BenchmarkDotNet.Attributes;
using HyperGate.Configuration;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Upstreams;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Benchmarks.Upstreams;

/// <summary>
/// One destination pick, and the in-flight accounting around it, per balancing algorithm: an upstream of eight
/// weighted destinations, and a browser request (consistent_hash hashes its session cookie).
/// </summary>
[MemoryDiagnoser]
public class BalancerBenchmarks
{
    private GatewayRuntime _runtime = null!;
    private Upstream _upstream = null!;
    private Exchange _exchange = null!;

    [Params("p2c", "round_robin", "least_requests", "consistent_hash", "random")]
    public string Balance { get; set; } = "p2c";

    [GlobalSetup]
    public void Setup()
    {
        string targets = string.Join(", ", Enumerable.Range(0, 8).Select(i => $"{{ address = \"127.0.0.1:{9000 + i}\", weight = {1 + i % 3} }}"));
        GatewayConfig config = ConfigLoader.Parse($"""
            [server]
            listen = ["127.0.0.1:8080"]
            [upstreams.users]
            targets = [{targets}]
            balance = "{Balance}"
            {(Balance == "consistent_hash" ? "hash_on = \"cookie:session\"" : "")}
            [routes.users]
            path_prefix = "/"
            upstream = "users"
            """, "bench.toml");
        _runtime = GatewayRuntime.Create(config, TimeProvider.System, NullLoggerFactory.Instance);
        _upstream = _runtime.Snapshot.Upstreams["users"];
        var pipe = new Pipe();
        _exchange = new Exchange(pipe.Reader, pipe.Writer, IPAddress.Loopback, isHttps: false) { Snapshot = _runtime.Snapshot };
        RequestHeadParser.TryParse(new ReadOnlySequence<byte>(SampleRequests.Browser), _exchange.Request, _runtime.Snapshot.Limits.Head, out _, out _, out _);
        _exchange.Request.NormalizePath();
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark, HotPath]
    public Destination Pick()
    {
        Destination destination = _upstream.PickDestination(_exchange)!;
        destination.RequestStarted();
        destination.RequestEnded();
        return destination;
    }
}
