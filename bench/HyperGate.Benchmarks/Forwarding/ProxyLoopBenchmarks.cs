using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using HyperGate.Admin;
using HyperGate.Configuration;
using HyperGate.Diagnostics;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Routing;
using HyperGate.Upstreams;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace HyperGate.Benchmarks.Forwarding;

/// <summary>
/// The per-request work between the two sockets, in memory: parse the downstream head, start its trace,
/// normalize the path, route, pick a destination (p2c, with its in-flight accounting), serialize the upstream
/// head into a pipe (the fake transport), and record the request's metrics into a live OpenTelemetry meter
/// provider, as a gateway with an admin listener does.
/// </summary>
[MemoryDiagnoser]
public class ProxyLoopBenchmarks
{
    private readonly Pipe _downstream = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Pipe _upstream = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private GatewayRuntime _runtime = null!;
    private GatewaySnapshot _snapshot = null!;
    private Exchange _exchange = null!;
    private Upstream _users = null!;
    private RequestRecorder _recorder = null!;
    private MeterProvider _metrics = null!;
    private ReadOnlySequence<byte> _request;

    [GlobalSetup]
    public void Setup()
    {
        GatewayConfig config = ConfigLoader.Parse("""
            [server]
            listen = ["127.0.0.1:8080"]
            [rate_limits.per_client]
            key = "ip"
            rate = 1000000000
            per = "1s"
            [upstreams.users]
            targets = ["127.0.0.1:9001", "127.0.0.1:9002"]
            [routes.users]
            host = "api.example.com"
            path_prefix = "/users"
            upstream = "users"
            strip_prefix = true
            rate_limit = ["per_client"]
            [routes.other]
            path_prefix = "/"
            respond = { status = 404 }
            """, "bench.toml");
        _runtime = GatewayRuntime.Create(config, TimeProvider.System, NullLoggerFactory.Instance);
        _snapshot = _runtime.Snapshot;
        _users = _snapshot.Upstreams["users"];
        _exchange = new Exchange(_downstream.Reader, _downstream.Writer, IPAddress.Loopback, isHttps: false)
        {
            Snapshot = _snapshot,
        };
        _request = new ReadOnlySequence<byte>(SampleRequests.Browser);
        _recorder = new RequestRecorder(_runtime);
        _metrics = AdminServer.ConfigureMetrics(Sdk.CreateMeterProviderBuilder(), _runtime.Telemetry).AddReader(new DashboardMetrics().Reader).Build();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _metrics.Dispose();
        _recorder.Dispose();
        _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark, HotPath]
    public long ParseRouteSerialize() => Exchange(applyRateLimits: false);

    /// <summary>The same request through a route with a rate limit keyed on the client address.</summary>
    [Benchmark, HotPath]
    public long ParseRouteLimitSerialize() => Exchange(applyRateLimits: true);

    private long Exchange(bool applyRateLimits)
    {
        RequestHead request = _exchange.Request;
        _exchange.BeginRequest(_snapshot);
        RequestHeadParser.TryParse(_request, request, _snapshot.Limits.Head, out _, out _, out _);
        _recorder.Begin(_exchange);
        request.NormalizePath();
        _exchange.Route = _snapshot.Routes.Match(request).Route;
        if (applyRateLimits)
        {
            _exchange.RateLimits.Apply(_exchange.Route!.RateLimits!, _exchange, _snapshot.TrustedProxies, TimeProvider.System.TimestampFrequency);
        }

        Destination destination = _users.PickDestination(_exchange)!;
        destination.RequestStarted();
        UpstreamRequestWriter.Write(_upstream.Writer, _exchange, destination, upgrade: false);
        _upstream.Writer.FlushAsync().GetAwaiter().GetResult();
        ReadResult written = _upstream.Reader.ReadAsync().GetAwaiter().GetResult();
        long bytes = written.Buffer.Length;
        _upstream.Reader.AdvanceTo(written.Buffer.End);
        _exchange.Status = 200;
        destination.RequestEnded();
        _recorder.Complete(_exchange);
        return bytes;
    }
}
