using System.Collections.Concurrent;
using System.Net;
using HyperGate.FunctionalTests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace HyperGate.FunctionalTests;

public class TracingTests
{
    [Fact]
    public async Task Traceparent_TheUpstreamSeesAChildOfTheIncomingTrace()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/traced")
        {
            Headers = { { "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }, { "tracestate", "vendor=abc" } },
        };
        EchoResult echo = EchoResult.Parse(await (await client.SendAsync(request)).Content.ReadAsStringAsync());

        string[] parts = echo.Headers["traceparent"].Split('-');
        Assert.Equal(["00", "0af7651916cd43dd8448eb211c80319c"], parts[..2]);
        Assert.Matches("^[0-9a-f]{16}$", parts[2]);
        Assert.NotEqual("b7ad6b7169203331", parts[2]);
        Assert.Equal("01", parts[3]);
        Assert.Equal("vendor=abc", echo.Headers["tracestate"]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("00-00000000000000000000000000000000-b7ad6b7169203331-01")]
    [InlineData("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01")]
    [InlineData("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    [InlineData("garbage")]
    public async Task Traceparent_MissingOrInvalid_StartsANewTrace(string? incoming)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/traced");
        if (incoming is not null)
        {
            request.Headers.TryAddWithoutValidation("traceparent", incoming);
        }

        EchoResult echo = EchoResult.Parse(await (await client.SendAsync(request)).Content.ReadAsStringAsync());
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", echo.Headers["traceparent"]);
        Assert.DoesNotContain("0af7651916cd43dd8448eb211c80319c", echo.Headers["traceparent"]);
    }

    [Fact]
    public async Task ServerTiming_WhenEnabled_ReportsGatewayAndUpstreamTime()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [tracing]
            server_timing = true

            [upstreams.backend]
            targets = ["{upstream.Address}"]

            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            """);
        using HttpClient client = gateway.CreateClient();
        HttpResponseMessage response = await client.GetAsync("/timed");
        Assert.Matches(@"^gateway;dur=\d+\.\d{3}, upstream;dur=\d+\.\d{3}$", string.Join(",", response.Headers.GetValues("Server-Timing")));
    }

    [Fact]
    public async Task Otlp_ASampledRequestIsExportedAsASpanOfItsTrace()
    {
        var received = new ConcurrentQueue<byte[]>();
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using WebApplication collector = builder.Build();
        collector.MapPost("/v1/traces", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue(body.ToArray());
        });
        await collector.StartAsync();
        string collectorUrl = collector.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        await using TestUpstream upstream = await TestUpstream.StartAsync();
        TestGateway gateway = await TestGateway.StartAsync($"""
            [tracing]
            sample_rate = 1
            otlp_endpoint = "{collectorUrl}"
            service_name = "gateway-under-test"

            [upstreams.backend]
            targets = ["{upstream.Address}"]

            [routes.exported]
            path_prefix = "/"
            upstream = "backend"
            """);
        string upstreamTraceparent;
        await using (gateway)
        {
            using HttpClient client = gateway.CreateClient();
            upstreamTraceparent = EchoResult.Parse(await client.GetStringAsync("/span")).Headers["traceparent"];
        }

        // Stopping the gateway flushes the exporter. OTLP/protobuf carries ids as raw bytes and names as UTF-8.
        byte[] payload = [.. received.SelectMany(b => b)];
        string[] ids = upstreamTraceparent.Split('-');
        Assert.True(Contains(payload, Convert.FromHexString(ids[1])), "the trace id is exported");
        Assert.True(Contains(payload, Convert.FromHexString(ids[2])), "the gateway's span is the upstream's parent");
        Assert.True(Contains(payload, "gateway-under-test"u8.ToArray()));
        Assert.True(Contains(payload, "GET exported"u8.ToArray()));
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;
}
