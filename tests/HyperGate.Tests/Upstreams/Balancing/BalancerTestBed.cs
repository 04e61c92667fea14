using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using HyperGate.Configuration;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Upstreams;
using HyperGate.Upstreams.Balancing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.Upstreams.Balancing;

/// <summary>Destinations on fake time, and requests to pick for, without any socket.</summary>
internal sealed class BalancerTestBed : IAsyncDisposable
{
    private readonly GatewayRuntime _runtime;

    public BalancerTestBed()
    {
        GatewayConfig config = ConfigLoader.Parse("[server]\nlisten = [\"127.0.0.1:0\"]\n[routes.all]\npath_prefix = \"/\"\nrespond = { status = 200 }", "test.toml");
        _runtime = GatewayRuntime.Create(config, Time, NullLoggerFactory.Instance);
    }

    public FakeTimeProvider Time { get; } = new();

    public Destination[] Destinations(int count) =>
        [.. Enumerable.Range(0, count).Select(i => Destination($"10.0.0.{i + 1}:80"))];

    public Destination Destination(string address) =>
        _runtime.Connections.GetOrCreateDestination("test", address, IPEndPoint.Parse(address), UpstreamSettings.Default);

    /// <summary>A parsed request for <paramref name="path"/> with the given extra header lines.</summary>
    public Exchange Request(string path = "/", params string[] headers)
    {
        var pipe = new Pipe();
        var exchange = new Exchange(pipe.Reader, pipe.Writer, IPAddress.Parse("192.0.2.7"), isHttps: false) { Snapshot = _runtime.Snapshot };
        string head = $"GET {path} HTTP/1.1\r\nHost: a\r\n{string.Concat(headers.Select(h => h + "\r\n"))}\r\n";
        RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(head)), exchange.Request, HeadLimits.Default, out _, out _, out _);
        exchange.Request.NormalizePath();
        return exchange;
    }

    /// <summary>Picks <paramref name="count"/> times and counts the picks per destination (requests end at once).</summary>
    public static Dictionary<Destination, int> Tally(Balancer balancer, Exchange exchange, int count)
    {
        var tally = balancer.Destinations.ToDictionary(d => d, _ => 0);
        for (int i = 0; i < count; i++)
        {
            tally[balancer.Pick(exchange)]++;
        }

        return tally;
    }

    public ValueTask DisposeAsync() => _runtime.DisposeAsync();
}
