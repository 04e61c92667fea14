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

namespace HyperGate.Benchmarks.Transforms;

/// <summary>
/// The request head sent upstream, built for a route with a path parameter, a rewrite, three header transforms
/// (a templated set, a rename, a removal), a query addition and a request id, against the same request on a bare
/// route. The goal: 0 bytes allocated, and the cost of the transforms per request.
/// </summary>
[MemoryDiagnoser]
public class HeaderTransformBenchmarks
{
    private readonly Pipe _upstream = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly UpstreamConnectionManager _connections = new(TimeProvider.System);
    private GatewayRuntime _runtime = null!;
    private GatewaySnapshot _snapshot = null!;
    private Exchange _exchange = null!;
    private Destination _destination = null!;
    private ReadOnlySequence<byte> _bare;
    private ReadOnlySequence<byte> _transformed;

    [GlobalSetup]
    public void Setup()
    {
        GatewayConfig config = ConfigLoader.Parse("""
            [server]
            listen = ["127.0.0.1:8080"]
            [request_id]
            [upstreams.backend]
            targets = ["127.0.0.1:9001"]
            [routes.bare]
            path_prefix = "/bare"
            upstream = "backend"
            [routes.users]
            path = "/users/{id}"
            rewrite = "/v2/accounts/{id}"
            upstream = "backend"
            request_headers = { set = { "X-User" = "user-{path.id}" }, rename = { "X-Client-Version" = "X-App-Version" }, remove = ["X-Debug"] }
            request_query = { add = { source = "{route}" } }
            """, "bench.toml");
        _runtime = GatewayRuntime.Create(config, TimeProvider.System, NullLoggerFactory.Instance);
        _snapshot = _runtime.Snapshot;
        _exchange = new Exchange(new Pipe().Reader, new Pipe().Writer, IPAddress.Loopback, isHttps: false) { Snapshot = _snapshot, Date = _runtime.Date };
        _destination = _connections.GetOrCreateDestination("backend", "127.0.0.1:9001", new IPEndPoint(IPAddress.Loopback, 9001), UpstreamSettings.Default);
        const string fields = "Host: api.example.com\r\nUser-Agent: bench\r\nAccept: application/json\r\nX-Client-Version: 3.1\r\nX-Debug: 1\r\nX-Request-Id: 7d9f0c1e-client\r\n\r\n";
        _bare = new ReadOnlySequence<byte>(System.Text.Encoding.ASCII.GetBytes("GET /bare/users/42?page=2 HTTP/1.1\r\n" + fields));
        _transformed = new ReadOnlySequence<byte>(System.Text.Encoding.ASCII.GetBytes("GET /users/42?page=2 HTTP/1.1\r\n" + fields));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _connections.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true), HotPath]
    public long BareRoute() => Forward(_bare);

    [Benchmark, HotPath]
    public long ThreeHeaderTransformsAndARequestId() => Forward(_transformed);

    /// <summary>Parse, route, take the request id, write the upstream head, and hand the bytes back.</summary>
    private long Forward(ReadOnlySequence<byte> text)
    {
        RequestHead request = _exchange.Request;
        _exchange.BeginRequest(_snapshot);
        RequestHeadParser.TryParse(text, request, _snapshot.Limits.Head, out _, out _, out _);
        request.NormalizePath();
        _exchange.Route = _snapshot.Routes.Match(request).Route;
        _snapshot.RequestId!.Begin(_exchange);
        UpstreamRequestWriter.Write(_upstream.Writer, _exchange, _destination, upgrade: false);
        _upstream.Writer.FlushAsync().GetAwaiter().GetResult();
        ReadResult written = _upstream.Reader.ReadAsync().GetAwaiter().GetResult();
        long bytes = written.Buffer.Length;
        _upstream.Reader.AdvanceTo(written.Buffer.End);
        return bytes;
    }
}
