using System.Net;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>Path templates, rewrites from their parameters, and query and header predicates, through a real upstream.</summary>
public class RoutingTemplateTests
{
    [Theory]
    [InlineData("/users/7", "/v2/accounts/7")]
    [InlineData("/users/7/orders/42", "/orders/42")]
    [InlineData("/files/a/b", "/store/a/b")]
    [InlineData("/files", "/store/")]
    [InlineData("/t/blue/items/3", "/tenants/blue/items/3")]
    [InlineData("/t/blue", "/tenants/blue")]
    public async Task Rewrites_BuildTheUpstreamPathFromTheParameters_AndKeepTheQuery(string requestPath, string upstreamPath)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [upstreams.backend]
            targets = ["{{upstream.Address}}"]

            [routes.user]
            path = "/users/{id}"
            rewrite = "/v2/accounts/{id}"
            upstream = "backend"

            [routes.order]
            path = "/users/{id}/orders/{order}"
            rewrite = "/orders/{order}"
            upstream = "backend"

            [routes.files]
            path = "/files/{*rest}"
            rewrite = "/store/{rest}"
            upstream = "backend"

            [routes.tenant]
            path_prefix = "/t/{tenant}"
            rewrite = "/tenants/{tenant}"
            upstream = "backend"
            """);
        using HttpClient client = gateway.CreateClient();

        EchoResult echo = EchoResult.Parse(await client.GetStringAsync(requestPath + "?q=1"));

        Assert.Equal(upstreamPath, echo.Path);
        Assert.Equal("?q=1", echo.Query);
    }

    [Fact]
    public async Task QueryAndHeaderPredicates_PickTheVersion()
    {
        await using TestUpstream v1 = await TestUpstream.StartAsync("v1");
        await using TestUpstream v2 = await TestUpstream.StartAsync("v2");
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [upstreams.v1]
            targets = ["{{v1.Address}}"]

            [upstreams.v2]
            targets = ["{{v2.Address}}"]

            [routes.v1]
            path_prefix = "/api"
            upstream = "v1"

            [routes.v2-query]
            path_prefix = "/api"
            query = { version = "2" }
            upstream = "v2"

            [routes.v2-header]
            path_prefix = "/api"
            headers = { "api-version" = { regex = "^2(\\.[0-9]+)?$" } }
            upstream = "v2"
            """);
        using HttpClient client = gateway.CreateClient();

        Assert.Equal("v1", EchoResult.Parse(await client.GetStringAsync("/api/x")).Server);
        Assert.Equal("v2", EchoResult.Parse(await client.GetStringAsync("/api/x?version=2")).Server);
        Assert.Equal("v1", EchoResult.Parse(await client.GetStringAsync("/api/x?version=3")).Server);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/x");
        request.Headers.Add("Api-Version", "2.1");
        using HttpResponseMessage response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("v2", EchoResult.Parse(await response.Content.ReadAsStringAsync()).Server);
    }
}
