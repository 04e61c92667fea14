using System.Net;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

public class RateLimitTests
{
    private static async Task<List<HttpResponseMessage>> SendAsync(HttpClient client, int count, string path = "/", Action<HttpRequestMessage>? configure = null)
    {
        var responses = new List<HttpResponseMessage>();
        for (int i = 0; i < count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            configure?.Invoke(request);
            responses.Add(await client.SendAsync(request));
        }

        return responses;
    }

    private static string Field(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : string.Empty;

    [Fact]
    public async Task OverTheLimit_Gets429WithRetryAfterAndJson_AndNeverReachesTheUpstream()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [rate_limits.per_client]
            key = "ip"
            rate = 3
            per = "1m"

            [upstreams.backend]
            targets = ["{upstream.Address}"]

            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            rate_limit = ["per_client"]
            """);
        using HttpClient client = gateway.CreateClient();

        List<HttpResponseMessage> responses = await SendAsync(client, 5);

        Assert.Equal([200, 200, 200, 429, 429], responses.Select(r => (int)r.StatusCode));
        Assert.Equal(3, upstream.RequestCount);
        HttpResponseMessage limited = responses[3];
        // 3 per minute: the next token is 20 s after the first admission (less the time the requests took).
        Assert.InRange(limited.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 15, 20);
        using JsonDocument body = JsonDocument.Parse(await limited.Content.ReadAsStringAsync());
        Assert.Equal("rate_limited", body.RootElement.GetProperty("error").GetString());
        Assert.Equal("application/json", limited.Content.Headers.ContentType?.MediaType);

        // The counters the metrics endpoint will export.
        var counters = gateway.Host.Runtime.Snapshot.RateLimits["per_client"].Counters;
        Assert.Equal((3, 2), (counters.Allowed, counters.Limited));
    }

    [Fact]
    public async Task EveryLimitedResponse_CarriesTheRateLimitFields()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [rate_limits.per_client]
            key = "ip"
            rate = 3
            per = "1m"

            [rate_limits.everyone]
            key = "route"
            algorithm = "sliding_window"
            rate = 1000
            per = "10s"

            [upstreams.backend]
            targets = ["{{upstream.Address}}"]

            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            rate_limit = ["per_client", "everyone"]

            [routes.mock]
            path = "/mock"
            respond = { status = 200, body = "ok" }
            rate_limit = ["per_client"]
            """);
        using HttpClient client = gateway.CreateClient();

        List<HttpResponseMessage> responses = await SendAsync(client, 2);
        List<HttpResponseMessage> direct = await SendAsync(client, 2, "/mock");

        Assert.Equal("\"per_client\";q=3;w=60, \"everyone\";q=1000;w=10", Field(responses[0], "RateLimit-Policy"));
        // t counts whole seconds down from the first admission; a slow machine may have spent a second or two.
        Assert.Matches("^\"per_client\";r=2;t=(19|20), \"everyone\";r=999;t=(10|11)$", Field(responses[0], "RateLimit"));
        Assert.Matches("^\"per_client\";r=1;t=(3[89]|40), \"everyone\";r=998;t=(10|11)$", Field(responses[1], "RateLimit"));
        Assert.Matches("^\"per_client\";r=0;t=(5[89]|60)$", Field(direct[0], "RateLimit"));
        Assert.Equal(HttpStatusCode.TooManyRequests, direct[1].StatusCode);
        Assert.Matches("^\"per_client\";r=0;t=(5[89]|60)$", Field(direct[1], "RateLimit"));
    }

    [Fact]
    public async Task HeadersOff_LeavesOnlyRetryAfter()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(
            upstream.Address,
            routeExtras: "rate_limit = [\"quiet\"]",
            limits: "[rate_limits.quiet]\nrate = 1\nper = \"1h\"\nheaders = false");
        using HttpClient client = gateway.CreateClient();

        List<HttpResponseMessage> responses = await SendAsync(client, 2);

        Assert.Empty(Field(responses[0], "RateLimit"));
        Assert.Empty(Field(responses[0], "RateLimit-Policy"));
        Assert.Equal(HttpStatusCode.TooManyRequests, responses[1].StatusCode);
        Assert.InRange(responses[1].Headers.RetryAfter!.Delta!.Value.TotalSeconds, 3590, 3600);
        Assert.Empty(Field(responses[1], "RateLimit"));
    }

    [Fact]
    public async Task HeaderKey_GivesEachValueItsOwnQuota()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(
            upstream.Address,
            routeExtras: "rate_limit = [\"per_key\"]",
            limits: "[rate_limits.per_key]\nkey = \"header:x-api-key\"\nrate = 2\nper = \"1h\"");
        using HttpClient client = gateway.CreateClient();

        List<HttpResponseMessage> alice = await SendAsync(client, 3, configure: r => r.Headers.Add("X-Api-Key", "alice"));
        List<HttpResponseMessage> bob = await SendAsync(client, 3, configure: r => r.Headers.Add("X-Api-Key", "bob"));

        Assert.Equal([200, 200, 429], alice.Select(r => (int)r.StatusCode));
        Assert.Equal([200, 200, 429], bob.Select(r => (int)r.StatusCode));
    }

    [Fact]
    public async Task BehindATrustedProxy_TheForwardedClientIsTheKey_AndWhatTheUpstreamIsTold()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [server]
            listen = ["127.0.0.1:0"]
            trusted_proxies = ["127.0.0.0/8"]

            [rate_limits.per_ip]
            key = "ip"
            rate = 1
            per = "1h"

            [upstreams.backend]
            targets = ["{upstream.Address}"]

            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            rate_limit = ["per_ip"]
            """);
        using HttpClient client = gateway.CreateClient();

        List<HttpResponseMessage> first = await SendAsync(client, 2, configure: r => r.Headers.Add("X-Forwarded-For", "198.51.100.1"));
        List<HttpResponseMessage> second = await SendAsync(client, 1, configure: r => r.Headers.Add("X-Forwarded-For", "198.51.100.2, 127.0.0.9"));

        Assert.Equal([200, 429], first.Select(r => (int)r.StatusCode));
        Assert.Equal(HttpStatusCode.OK, second[0].StatusCode);

        // The upstream is told the same client the limit counted.
        EchoResult echo = EchoResult.Parse(await second[0].Content.ReadAsStringAsync());
        Assert.Equal("198.51.100.2", echo.Headers["X-Forwarded-For"]);
    }

    [Fact]
    public async Task ARefusedRequest_CostsNoQuotaInTheLimitsBeforeIt()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(
            upstream.Address,
            routeExtras: "rate_limit = [\"generous\", \"strict\"]",
            limits: "[rate_limits.generous]\nrate = 5\nper = \"1h\"\n[rate_limits.strict]\nkey = \"header:x-plan\"\nrate = 1\nper = \"1h\"");
        using HttpClient client = gateway.CreateClient();

        // Three refusals by "strict" for the "free" plan leave "generous" untouched for the "paid" plan.
        await SendAsync(client, 4, configure: r => r.Headers.Add("X-Plan", "free"));
        List<HttpResponseMessage> paid = await SendAsync(client, 1, configure: r => r.Headers.Add("X-Plan", "paid"));

        Assert.Equal(HttpStatusCode.OK, paid[0].StatusCode);
        Assert.StartsWith("\"generous\";r=3;", Field(paid[0], "RateLimit"));
    }
}
