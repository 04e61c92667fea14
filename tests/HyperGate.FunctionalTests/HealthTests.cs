using System.Text.Json.Nodes;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Hosting;
using HyperGate.Upstreams;
using HyperGate.Upstreams.Health;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.FunctionalTests;

public class HealthTests
{
    private static string Config(string targets, string extras) => $"""
        [upstreams.backend]
        targets = [{targets}]
        balance = "round_robin"
        {extras}

        [routes.all]
        path_prefix = "/"
        upstream = "backend"
        """;

    private static async Task<List<int>> GetAsync(TestGateway gateway, int count) =>
        [.. (await gateway.SendManyAsync(count)).Select(answer => answer.Status)];

    [Fact]
    public async Task ADestinationAnswering5xx_IsEjectedAfterTheConfiguredFailures()
    {
        await using TestUpstream sick = await TestUpstream.StartAsync("sick");
        await using TestUpstream healthy = await TestUpstream.StartAsync("healthy");
        sick.FailStatus = 503;
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{sick.Address}\", \"{healthy.Address}\"",
            "outlier = { consecutive_failures = 3, base_ejection = \"1h\", max_ejection = \"1h\" }") + "\n[admin]\nlisten = \"127.0.0.1:0\"\n");

        List<int> statuses = await GetAsync(gateway, 20);

        Assert.Equal(3, sick.RequestCount);
        Assert.Equal(3, statuses.Count(s => s == 503));
        Assert.Equal(17, healthy.RequestCount);

        using HttpClient admin = gateway.CreateAdminClient();
        string metrics = await admin.GetStringAsync("/metrics");
        Assert.Equal(0, PrometheusText.Value(metrics, "hypergate_upstream_healthy", ("destination", sick.Address)));
        Assert.Equal(1, PrometheusText.Value(metrics, "hypergate_upstream_healthy", ("destination", healthy.Address)));
        JsonNode status = JsonNode.Parse(await admin.GetStringAsync("/status"))!;
        JsonArray destinations = status["upstreams"]![0]!["destinations"]!.AsArray();
        Assert.Equal(["ejected", "healthy"], destinations.Select(d => (string)d!["health"]!));
    }

    [Fact]
    public async Task ADestinationRefusingConnections_IsEjected_AndCountsNoMore()
    {
        await using TestUpstream healthy = await TestUpstream.StartAsync("healthy");
        using ClosedPort closed = TestPorts.Closed();
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{closed.Address}\", \"{healthy.Address}\"",
            "outlier = { consecutive_failures = 2, base_ejection = \"1h\", max_ejection = \"1h\" }"));

        List<int> statuses = await GetAsync(gateway, 12);

        Assert.Equal(2, statuses.Count(s => s == 502));
        Assert.Equal(10, healthy.RequestCount);
    }

    [Fact]
    public async Task WithoutCounting5xx_ADestinationThatAnswers5xx_StaysIn()
    {
        await using TestUpstream sick = await TestUpstream.StartAsync("sick");
        await using TestUpstream healthy = await TestUpstream.StartAsync("healthy");
        sick.FailStatus = 500;
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{sick.Address}\", \"{healthy.Address}\"",
            "outlier = { consecutive_failures = 2, count_5xx = false }"));

        await GetAsync(gateway, 10);

        Assert.Equal(5, sick.RequestCount);
    }

    [Fact]
    public async Task ActiveChecks_TakeAFailingDestinationOut_AndBringItBackWhenItPasses()
    {
        await using TestUpstream flaky = await TestUpstream.StartAsync("flaky");
        await using TestUpstream steady = await TestUpstream.StartAsync("steady");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        flaky.FailStatus = 503;
        await using TestGateway gateway = await TestGateway.StartAsync(
            Config($"\"{flaky.Address}\", \"{steady.Address}\"", "health_check = { path = \"/healthz\", interval = \"10s\", healthy = 1, unhealthy = 1 }"),
            new GatewayHostOptions { TimeProvider = time });
        UpstreamConnectionManager connections = gateway.Host.Runtime.Connections;

        // The first probes run within one interval of start; the failing one takes its destination out.
        Task<DestinationHealth> change = HealthEvents.NextChangeAsync(connections, flaky.Address);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(DestinationHealth.Unhealthy, await change.WaitAsync(TimeSpan.FromSeconds(30)));
        int flakyBefore = flaky.RequestCount;
        Assert.All(await GetAsync(gateway, 10), status => Assert.Equal(200, status));
        Assert.Equal(flakyBefore, flaky.RequestCount);

        flaky.FailStatus = null;
        change = HealthEvents.NextChangeAsync(connections, flaky.Address);
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(DestinationHealth.Healthy, await change.WaitAsync(TimeSpan.FromSeconds(30)));
        int probesAndRequests = flaky.RequestCount;
        await GetAsync(gateway, 10);
        Assert.Equal(probesAndRequests + 5, flaky.RequestCount);
        Assert.All(flaky.Paths.Take(1), path => Assert.Equal("/healthz", path));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ActiveChecks_ProbeAnHttp2Upstream_OverHttp2(bool tls)
    {
        // The upstream speaks HTTP/2 only (h2c by prior knowledge, or h2 by ALPN): an HTTP/1.1 probe could never pass.
        using var certificates = new TestCertificates();
        TestCertificate? certificate = tls ? certificates.Create("upstream", ["upstream.test"]) : null;
        await using TestUpstream flaky = await TestUpstream.StartAsync("flaky", certificate?.Certificate, HttpProtocols.Http2);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        flaky.FailStatus = 503;
        string protocol = tls ? $"protocol = \"h2\"\ntls = {{ server_name = \"upstream.test\", ca = \"{certificate!.CertPath}\" }}" : "protocol = \"h2c\"";
        await using TestGateway gateway = await TestGateway.StartAsync(
            Config($"\"{flaky.Address}\"", $"{protocol}\nhealth_check = {{ path = \"/healthz\", interval = \"10s\", healthy = 1, unhealthy = 1 }}"),
            new GatewayHostOptions { TimeProvider = time });
        UpstreamConnectionManager connections = gateway.Host.Runtime.Connections;

        Task<DestinationHealth> change = HealthEvents.NextChangeAsync(connections, flaky.Address);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(DestinationHealth.Unhealthy, await change.WaitAsync(TimeSpan.FromSeconds(30)));

        flaky.FailStatus = null;
        change = HealthEvents.NextChangeAsync(connections, flaky.Address);
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(DestinationHealth.Healthy, await change.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.All(flaky.Paths, path => Assert.Equal("/healthz", path));
    }
}
