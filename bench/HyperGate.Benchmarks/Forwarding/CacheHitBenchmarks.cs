using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using HyperGate.Caching;
using HyperGate.Configuration;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Benchmarks.Forwarding;

/// <summary>
/// A cache hit in memory: parse the head, normalize, route, run the route's request phase (the lookup finds a
/// fresh stored response), and write the stored head and a 16 KiB body to the downstream pipe. The goal is
/// 0 bytes allocated per hit.
/// </summary>
[MemoryDiagnoser]
public class CacheHitBenchmarks
{
    private readonly Pipe _downstream = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private GatewayRuntime _runtime = null!;
    private GatewaySnapshot _snapshot = null!;
    private Exchange _exchange = null!;
    private ReadOnlySequence<byte> _request;

    [GlobalSetup]
    public void Setup()
    {
        GatewayConfig config = ConfigLoader.Parse("""
            [server]
            listen = ["127.0.0.1:8080"]
            [upstreams.static]
            targets = ["127.0.0.1:9001"]
            [routes.assets]
            path_prefix = "/assets"
            upstream = "static"
            cache = true
            """, "bench.toml");
        _runtime = GatewayRuntime.Create(config, TimeProvider.System, NullLoggerFactory.Instance);
        _snapshot = _runtime.Snapshot;
        _exchange = new Exchange(_downstream.Reader, _downstream.Writer, IPAddress.Loopback, isHttps: false) { Snapshot = _snapshot, Date = _runtime.Date };
        _request = new ReadOnlySequence<byte>("GET /assets/app.js HTTP/1.1\r\nHost: cdn.example.com\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n"u8.ToArray());

        // Store the response the first request would have stored.
        RequestHead request = _exchange.Request;
        RequestHeadParser.TryParse(_request, request, _snapshot.Limits.Head, out _, out _, out _);
        request.NormalizePath();
        RouteCache cache = _snapshot.Routes.Match(request).Route!.Cache!;
        var key = new byte[RouteCache.MaxKeyLength(request)];
        long now = cache.Now;
        byte[] fields = Encoding.ASCII.GetBytes(
            "Content-Type: application/javascript\r\nCache-Control: public, max-age=86400\r\nETag: \"abc123\"\r\n" +
            $"Date: {HttpDate.Format(DateTimeOffset.FromUnixTimeSeconds(now))}\r\n");
        cache.Store.Store(key[..cache.WriteKey(request, https: false, key)], new CachedResponse(200, "OK"u8, fields, new byte[16 * 1024], new CacheTimes(now, now, now, 0, 0), null));
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark, HotPath]
    public long Hit()
    {
        RequestHead request = _exchange.Request;
        _exchange.BeginRequest(_snapshot);
        RequestHeadParser.TryParse(_request, request, _snapshot.Limits.Head, out _, out _, out _);
        request.NormalizePath();
        _exchange.Route = _snapshot.Routes.Match(request).Route;
        StepResult result = _exchange.Route!.Phases.RunRequestAsync(_exchange).GetAwaiter().GetResult();
        if (result.Verdict != StepVerdict.Answered)
        {
            throw new InvalidOperationException("expected a hit");
        }

        _downstream.Writer.FlushAsync().GetAwaiter().GetResult();
        ReadResult written = _downstream.Reader.ReadAsync().GetAwaiter().GetResult();
        long bytes = written.Buffer.Length;
        _downstream.Reader.AdvanceTo(written.Buffer.End);
        return bytes;
    }
}
