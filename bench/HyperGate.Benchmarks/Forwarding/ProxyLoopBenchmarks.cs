using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using HyperGate.Configuration;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.RateLimiting;
using HyperGate.Routing;
using HyperGate.Upstreams;

namespace HyperGate.Benchmarks.Forwarding;

/// <summary>
/// The per-request work between the two sockets, in memory: parse the downstream head, normalize the path,
/// route, and serialize the upstream head into a pipe (the fake transport).
/// </summary>
[MemoryDiagnoser]
public class ProxyLoopBenchmarks
{
    private readonly Pipe _downstream = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Pipe _upstream = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private UpstreamConnectionManager _connections = null!;
    private readonly RateLimitRegistry _rateLimits = new(TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
    private GatewaySnapshot _snapshot = null!;
    private Exchange _exchange = null!;
    private Destination _destination = null!;
    private ReadOnlySequence<byte> _request;

    [GlobalSetup]
    public void Setup()
    {
        GatewayConfig config = ConfigLoader.Parse("""
            [server]
            listen = ["127.0.0.1:8080"]
            [upstreams.users]
            targets = ["127.0.0.1:9001"]
            [routes.users]
            host = "api.example.com"
            path_prefix = "/users"
            upstream = "users"
            strip_prefix = true
            [routes.other]
            path_prefix = "/"
            respond = { status = 404 }
            """, "bench.toml");
        _connections = new UpstreamConnectionManager(TimeProvider.System);
        _snapshot = ConfigCompiler.Compile(config, _connections, _rateLimits);
        _destination = _snapshot.Upstreams["users"].Destinations[0];
        _exchange = new Exchange(_downstream.Reader, _downstream.Writer, IPAddress.Loopback, isHttps: false)
        {
            Snapshot = _snapshot,
        };
        _request = new ReadOnlySequence<byte>(SampleRequests.Browser);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _rateLimits.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _connections.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark, HotPath]
    public long ParseRouteSerialize()
    {
        RequestHead request = _exchange.Request;
        RequestHeadParser.TryParse(_request, request, _snapshot.Limits.Head, out _, out _, out _);
        request.NormalizePath();
        _exchange.Route = _snapshot.Routes.Match(request).Route;

        UpstreamRequestWriter.Write(_upstream.Writer, _exchange, _destination, upgrade: false);
        _upstream.Writer.FlushAsync().GetAwaiter().GetResult();
        ReadResult written = _upstream.Reader.ReadAsync().GetAwaiter().GetResult();
        long bytes = written.Buffer.Length;
        _upstream.Reader.AdvanceTo(written.Buffer.End);
        return bytes;
    }
}
