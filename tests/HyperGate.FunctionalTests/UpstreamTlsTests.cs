using System.Net;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Hosting;
using HyperGate.Upstreams;
using HyperGate.Upstreams.Health;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.FunctionalTests;

/// <summary>TLS from the gateway to an HTTPS upstream (Kestrel with a certificate the test makes).</summary>
public sealed class UpstreamTlsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    private static string Config(string upstream, string tls, string upstreamExtras = "") => $$"""
        [upstreams.secure]
        targets = ["{{upstream}}"]
        tls = {{tls}}
        {{upstreamExtras}}
        [routes.all]
        path_prefix = "/"
        upstream = "secure"
        """;

    [Fact]
    public async Task AVerifiedUpstream_IsProxiedOverTls_AndItsConnectionsArePooled()
    {
        TestCertificate server = _certificates.Create("upstream", ["upstream.test"]);
        await using TestUpstream upstream = await TestUpstream.StartAsync(certificate: server.Certificate);
        await using TestGateway gateway = await TestGateway.StartAsync(Config(upstream.Address, $"{{ server_name = \"upstream.test\", ca = \"{server.CertPath}\" }}"));
        using HttpClient client = gateway.CreateClient();

        EchoResult first = EchoResult.Parse(await client.GetStringAsync("/one"));
        EchoResult second = EchoResult.Parse(await client.GetStringAsync("/two"));

        Assert.Equal("/one", first.Path);
        Assert.Equal("/two", second.Path);
        Assert.Equal(first.ConnectionId, second.ConnectionId);
    }

    [Theory]
    [InlineData("true")]                                                   // the system's roots do not know the test's certificate
    [InlineData("{ server_name = \"other.test\", ca = \"CA\" }")]           // a trusted certificate for another name
    public async Task AnUpstreamCertificateThatFailsVerification_Is502UpstreamTlsFailed(string tls)
    {
        TestCertificate server = _certificates.Create("upstream", ["upstream.test"]);
        await using TestUpstream upstream = await TestUpstream.StartAsync(certificate: server.Certificate);
        await using TestGateway gateway = await TestGateway.StartAsync(Config(upstream.Address, tls.Replace("CA", server.CertPath)));
        using HttpClient client = gateway.CreateClient();

        HttpResponseMessage response = await client.GetAsync("/x");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("UpstreamTlsFailed", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("reason").GetString());
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task VerificationTurnedOffExplicitly_AcceptsAnyCertificate()
    {
        TestCertificate server = _certificates.Create("upstream", ["upstream.test"]);
        await using TestUpstream upstream = await TestUpstream.StartAsync(certificate: server.Certificate);
        await using TestGateway gateway = await TestGateway.StartAsync(Config(upstream.Address, "{ verify = false }"));
        using HttpClient client = gateway.CreateClient();

        Assert.Equal("/x", EchoResult.Parse(await client.GetStringAsync("/x")).Path);

        // Allowed, and said: check and start print it as a warning at the upstream's line.
        HyperGate.Configuration.ConfigError warning = Assert.Single(gateway.Host.Runtime.Snapshot.Config.Warnings);
        Assert.Contains("upstreams.secure.tls: verify = false accepts any certificate", warning.Message);
    }

    [Fact]
    public async Task ActiveHealthChecks_ProbeOverTls()
    {
        TestCertificate server = _certificates.Create("upstream", ["upstream.test"]);
        await using TestUpstream upstream = await TestUpstream.StartAsync(certificate: server.Certificate);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        upstream.FailStatus = 503;
        await using TestGateway gateway = await TestGateway.StartAsync(
            Config(upstream.Address, $"{{ server_name = \"upstream.test\", ca = \"{server.CertPath}\" }}",
                "health_check = { path = \"/healthz\", interval = \"10s\", healthy = 1, unhealthy = 1 }"),
            new GatewayHostOptions { TimeProvider = time });
        UpstreamConnectionManager connections = gateway.Host.Runtime.Connections;

        // A probe that reaches the application (a 503) takes the destination out; one that passes brings it back,
        // which only a probe over TLS can do: the upstream speaks nothing else.
        Task<DestinationHealth> change = HealthEvents.NextChangeAsync(connections, upstream.Address);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(DestinationHealth.Unhealthy, await change.WaitAsync(TimeSpan.FromSeconds(30)));

        upstream.FailStatus = null;
        change = HealthEvents.NextChangeAsync(connections, upstream.Address);
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(DestinationHealth.Healthy, await change.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("/healthz", upstream.Paths);
    }
}
