using System.Net;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Security;

namespace HyperGate.FunctionalTests;

/// <summary>Header and query transforms and the request id, through a real upstream that reports what it received.</summary>
public class TransformTests
{
    [Fact]
    public async Task RequestTransforms_UseTheIdentity_AndCannotForgeIt()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [request_id]

            [consumers.alpha]
            api_keys = ["{{CredentialHashes.HashKey("alpha-key")}}"]
            claims = { tier = "gold" }

            [auth.keys]
            type = "api_key"

            [upstreams.backend]
            targets = ["{{upstream.Address}}"]

            [routes.orders]
            path = "/users/{id}/orders"
            rewrite = "/orders"
            upstream = "backend"
            auth = ["keys"]
            request_headers = { set = { "X-Caller" = "{consumer}:{claim.tier}" }, remove = ["X-Debug"], rename = { "X-Client-Version" = "X-App-Version" } }
            request_query = { add = { user = "{path.id}" }, remove = ["debug"] }
            """);
        using HttpClient client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/users/7/orders?debug=1&page=2");
        request.Headers.Add("X-Api-Key", "alpha-key");
        request.Headers.Add("X-Consumer-Id", "forged");
        request.Headers.Add("X-Debug", "1");
        request.Headers.Add("X-Client-Version", "3.1");
        request.Headers.Add("X-Request-Id", "client-chosen-1");

        using HttpResponseMessage response = await client.SendAsync(request);
        EchoResult echo = EchoResult.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal("/orders", echo.Path);
        Assert.Equal("?page=2&user=7", echo.Query);
        Assert.Equal("alpha:gold", echo.Headers["X-Caller"]);
        Assert.Equal("alpha", echo.Headers["X-Consumer-Id"]);
        Assert.False(echo.Headers.ContainsKey("X-Debug"));
        Assert.False(echo.Headers.ContainsKey("X-Client-Version"));
        Assert.Equal("3.1", echo.Headers["X-App-Version"]);
        Assert.Equal("client-chosen-1", echo.Headers["X-Request-Id"]);
        Assert.Equal(["client-chosen-1"], response.Headers.GetValues("X-Request-Id"));
    }

    [Fact]
    public async Task ResponseTransforms_ApplyToForwardedAndCachedResponses_TheRequestIdToErrorsToo()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [request_id]
            header = "X-Correlation-Id"

            [upstreams.backend]
            targets = ["{{upstream.Address}}"]

            [routes.cached]
            path_prefix = "/status"
            upstream = "backend"
            cache = { default_ttl = "1m" }
            response_headers = { remove = ["Server"], set = { "X-Frame-Options" = "DENY" }, add = { "X-Route" = "{route}" } }
            """);
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage miss = await client.GetAsync("/status/200");
        using HttpResponseMessage hit = await client.GetAsync("/status/200");
        using HttpResponseMessage notFound = await client.GetAsync("/elsewhere");

        foreach (HttpResponseMessage response in new[] { miss, hit })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(response.Headers.Contains("Server"));
            Assert.Equal(["DENY"], response.Headers.GetValues("X-Frame-Options"));
            Assert.Equal(["cached"], response.Headers.GetValues("X-Route"));
            Assert.Equal(32, Assert.Single(response.Headers.GetValues("X-Correlation-Id")).Length);
        }

        Assert.Contains("hit", Assert.Single(hit.Headers.GetValues("Cache-Status")));
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.Equal(32, Assert.Single(notFound.Headers.GetValues("X-Correlation-Id")).Length);
        Assert.NotEqual(miss.Headers.GetValues("X-Correlation-Id"), hit.Headers.GetValues("X-Correlation-Id"));
    }
}
