using System.Net;
using HyperGate.Upstreams;
using HyperGate.Upstreams.Balancing;
using HyperGate.Upstreams.Health;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.Upstreams.Health;

/// <summary>Outlier ejection, the panic threshold and slow start, on fake time and without sockets.</summary>
public sealed class UpstreamHealthTests : IAsyncDisposable
{
    private static readonly OutlierSettings Outlier = new(3, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(100), 50, Count5xx: true);

    private readonly FakeTimeProvider _time = new();
    private readonly UpstreamConnectionManager _manager;
    private readonly List<(Destination Destination, DestinationHealth Health)> _changes = [];

    public UpstreamHealthTests()
    {
        _manager = new UpstreamConnectionManager(_time);
        _manager.HealthChanged += (_, destination, health) => _changes.Add((destination, health));
    }

    public ValueTask DisposeAsync() => _manager.DisposeAsync();

    private Upstream Create(int destinations, UpstreamHealthSettings health, int[]? weights = null)
    {
        Destination[] all = [.. Enumerable.Range(0, destinations).Select(i =>
            _manager.GetOrCreateDestination("test", $"10.0.0.{i + 1}:80", IPEndPoint.Parse($"10.0.0.{i + 1}:80"), UpstreamSettings.Default))];
        var upstream = new Upstream("test", all, weights ?? [.. all.Select(_ => 1)], UpstreamSettings.Default, new BalanceSettings(BalanceAlgorithm.RoundRobin), health, _manager);
        _manager.Retain([upstream]);
        return upstream;
    }

    private static Dictionary<Destination, int> Picks(Upstream upstream, int count)
    {
        var exchange = new HyperGate.Forwarding.Exchange(new System.IO.Pipelines.Pipe().Reader, new System.IO.Pipelines.Pipe().Writer, IPAddress.Loopback, isHttps: false);
        var tally = upstream.Destinations.ToDictionary(d => d, _ => 0);
        for (int i = 0; i < count; i++)
        {
            tally[upstream.PickDestination(exchange)!]++;
        }

        return tally;
    }

    [Fact]
    public void ConsecutiveFailures_EjectTheDestination_UntilTheEjectionEnds()
    {
        Upstream upstream = Create(3, UpstreamHealthSettings.Default with { Outlier = Outlier });
        Destination sick = upstream.Destinations[0];

        upstream.ReportFailure(sick);
        upstream.ReportFailure(sick);
        Assert.Equal(DestinationHealth.Healthy, sick.HealthAt(_time.GetTimestamp()));
        upstream.ReportFailure(sick);

        Assert.Equal(DestinationHealth.Ejected, sick.HealthAt(_time.GetTimestamp()));
        Assert.Equal([(sick, DestinationHealth.Ejected)], _changes);
        Assert.Equal(0, Picks(upstream, 30)[sick]);

        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(0, Picks(upstream, 30)[sick]);
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal((sick, DestinationHealth.Healthy), _changes[^1]);
        Assert.Equal(10, Picks(upstream, 30)[sick]);
    }

    [Fact]
    public void ASuccessInBetween_StartsTheCountOver()
    {
        Upstream upstream = Create(2, UpstreamHealthSettings.Default with { Outlier = Outlier });
        Destination flaky = upstream.Destinations[0];

        upstream.ReportFailure(flaky);
        upstream.ReportFailure(flaky);
        flaky.RecordSuccess();
        upstream.ReportFailure(flaky);
        upstream.ReportFailure(flaky);

        Assert.Equal(DestinationHealth.Healthy, flaky.HealthAt(_time.GetTimestamp()));
    }

    [Fact]
    public void EjectionsInARow_DoubleInLength_UpToTheMaximum()
    {
        Upstream upstream = Create(2, UpstreamHealthSettings.Default with { Outlier = Outlier });
        Destination sick = upstream.Destinations[0];
        TimeSpan[] expected = [TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(100)];
        foreach (TimeSpan length in expected)
        {
            Fail(upstream, sick, 3);
            _time.Advance(length - TimeSpan.FromSeconds(1));
            Assert.Equal(DestinationHealth.Ejected, sick.HealthAt(_time.GetTimestamp()));
            _time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(DestinationHealth.Healthy, sick.HealthAt(_time.GetTimestamp()));
        }

        // Healthy for longer than the maximum ejection: the next ejection is short again.
        _time.Advance(TimeSpan.FromSeconds(101));
        Fail(upstream, sick, 3);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(DestinationHealth.Healthy, sick.HealthAt(_time.GetTimestamp()));
    }

    [Fact]
    public void NoMoreThanMaxEjectedPercent_AreOutAtOnce()
    {
        Upstream upstream = Create(4, UpstreamHealthSettings.Default with { Outlier = Outlier });
        foreach (Destination destination in upstream.Destinations)
        {
            Fail(upstream, destination, 3);
        }

        long now = _time.GetTimestamp();
        Assert.Equal(2, upstream.Destinations.Count(d => d.HealthAt(now) == DestinationHealth.Ejected));
    }

    [Fact]
    public void BelowThePanicThreshold_EveryDestinationTakesTraffic()
    {
        Upstream upstream = Create(4, UpstreamHealthSettings.Default with { Outlier = Outlier with { MaxEjectedPercent = 100 }, PanicThreshold = 50 });
        Fail(upstream, upstream.Destinations[0], 3);
        Fail(upstream, upstream.Destinations[1], 3);

        // Half are left: not below the threshold, so the ejected ones get nothing.
        Assert.False(upstream.Panic);
        Assert.Equal([0, 0, 20, 20], Picks(upstream, 40).Values);

        Fail(upstream, upstream.Destinations[2], 3);
        Assert.True(upstream.Panic);
        Assert.Equal([10, 10, 10, 10], Picks(upstream, 40).Values);
    }

    [Fact]
    public void SlowStart_RampsAReturningDestinationUpToItsWeight()
    {
        Upstream upstream = Create(2, UpstreamHealthSettings.Default with { Outlier = Outlier, SlowStart = TimeSpan.FromSeconds(10) });
        Destination returning = upstream.Destinations[0];
        Fail(upstream, returning, 3);
        _time.Advance(TimeSpan.FromSeconds(30));

        // Just back: weight 1 of the other's 10.
        Assert.Equal(10, Picks(upstream, 110)[returning]);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(50, Picks(upstream, 150)[returning]);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(50, Picks(upstream, 100)[returning]);
    }

    [Fact]
    public void AnUpstreamWithoutOutlierDetection_NeverEjects()
    {
        Upstream upstream = Create(2, UpstreamHealthSettings.Default);
        Fail(upstream, upstream.Destinations[0], 100);

        Assert.Equal(DestinationHealth.Healthy, upstream.Destinations[0].HealthAt(_time.GetTimestamp()));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK", 200)]
    [InlineData("HTTP/1.0 503 S", 503)]
    public void StatusLine_IsParsed(string line, int status)
    {
        Assert.True(ActiveHealthCheck.TryParseStatus(System.Text.Encoding.ASCII.GetBytes(line), out int parsed));
        Assert.Equal(status, parsed);
    }

    [Theory]
    [InlineData("HTTP/2 200 OK")]
    [InlineData("HTTP/1.1 2xx O")]
    [InlineData("SSH-2.0-OpenSSH")]
    public void StatusLine_ThatIsNotHttp1_FailsTheProbe(string line) =>
        Assert.False(ActiveHealthCheck.TryParseStatus(System.Text.Encoding.ASCII.GetBytes(line), out _));

    private static void Fail(Upstream upstream, Destination destination, int times)
    {
        for (int i = 0; i < times; i++)
        {
            upstream.ReportFailure(destination);
        }
    }
}
