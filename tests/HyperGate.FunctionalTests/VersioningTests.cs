using System.Net;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>API versions read from a header, the query, the path or the media type, with deprecation and sunset.</summary>
public class VersioningTests
{
    private static async Task<TestGateway> StartAsync(TestUpstream v1, TestUpstream v2, string versionBy, string v1Extras = "", string defaultVersion = "default_version = \"2\"") =>
        await TestGateway.StartAsync($$"""
            [upstreams.v1]
            targets = ["{{v1.Address}}"]

            [upstreams.v2]
            targets = ["{{v2.Address}}"]

            [routes.users]
            path_prefix = "/api"
            version_by = {{versionBy}}
            {{defaultVersion}}

            [routes.users.versions.1]
            upstream = "v1"
            {{v1Extras}}

            [routes.users.versions.2]
            upstream = "v2"
            """);

    private static async Task<(HttpStatusCode Status, string? Server, HttpResponseMessage Response)> GetAsync(HttpClient client, string path, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        foreach ((string name, string value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        HttpResponseMessage response = await client.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, response.IsSuccessStatusCode ? EchoResult.Parse(body).Server : null, response);
    }

    [Fact]
    public async Task Header_PicksTheVersion_TheDefaultServesTheRest_AndUnknownIs400ListingTheSupported()
    {
        await using TestUpstream v1 = await TestUpstream.StartAsync("v1");
        await using TestUpstream v2 = await TestUpstream.StartAsync("v2");
        await using TestGateway gateway = await StartAsync(v1, v2, "{ header = \"Api-Version\" }");
        using HttpClient client = gateway.CreateClient();

        Assert.Equal("v1", (await GetAsync(client, "/api/users", ("Api-Version", "1"))).Server);
        Assert.Equal("v2", (await GetAsync(client, "/api/users", ("Api-Version", "2"))).Server);
        Assert.Equal("v2", (await GetAsync(client, "/api/users")).Server);
        (HttpStatusCode status, _, HttpResponseMessage unknown) = await GetAsync(client, "/api/users", ("Api-Version", "3"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        string detail = JsonDocument.Parse(await unknown.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString()!;
        Assert.Contains("1, 2", detail);
    }

    [Fact]
    public async Task Query_AndMediaType_AreSourcesToo()
    {
        await using TestUpstream v1 = await TestUpstream.StartAsync("v1");
        await using TestUpstream v2 = await TestUpstream.StartAsync("v2");
        await using (TestGateway byQuery = await StartAsync(v1, v2, "{ query = \"api-version\" }"))
        {
            using HttpClient client = byQuery.CreateClient();
            Assert.Equal("v1", (await GetAsync(client, "/api/users?api-version=1")).Server);
            Assert.Equal("v2", (await GetAsync(client, "/api/users?x=1")).Server);
        }

        await using TestGateway byType = await StartAsync(v1, v2, "{ media_type = \"application/vnd.acme.v{version}+json\" }");
        using HttpClient typed = byType.CreateClient();
        Assert.Equal("v1", (await GetAsync(typed, "/api/users", ("Accept", "text/html, application/vnd.acme.v1+json;q=0.9"))).Server);
        Assert.Equal("v2", (await GetAsync(typed, "/api/users", ("Accept", "application/json"))).Server);
    }

    [Theory]
    [InlineData("/api/v1/users", "v1", "/api/users")]
    [InlineData("/api/v2/users/7", "v2", "/api/users/7")]
    [InlineData("/api/v2", "v2", "/api")]
    [InlineData("/api/users", "v2", "/api/users")]
    [InlineData("/api/vehicles", "v2", "/api/vehicles")]
    public async Task Path_ReadsTheSegmentAfterThePrefix_AndTheUpstreamNeverSeesIt(string path, string server, string upstreamPath)
    {
        await using TestUpstream v1 = await TestUpstream.StartAsync("v1");
        await using TestUpstream v2 = await TestUpstream.StartAsync("v2");
        await using TestGateway gateway = await StartAsync(v1, v2, "{ path = true }");
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await client.GetAsync(path + "?q=1");
        EchoResult echo = EchoResult.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(server, echo.Server);
        Assert.Equal(upstreamPath, echo.Path);
        Assert.Equal("?q=1", echo.Query);
    }

    [Fact]
    public async Task ADeprecatedVersion_SaysSoWithItsSunsetAndSuccessor()
    {
        await using TestUpstream v1 = await TestUpstream.StartAsync("v1");
        await using TestUpstream v2 = await TestUpstream.StartAsync("v2");
        await using TestGateway gateway = await StartAsync(v1, v2, "{ header = \"Api-Version\" }",
            "deprecated = 2026-01-01T00:00:00Z\nsunset = 2099-12-31T23:59:59Z\nsuccessor_link = \"https://api.example.com/v2\"");
        using HttpClient client = gateway.CreateClient();

        (_, string? server, HttpResponseMessage old) = await GetAsync(client, "/api/users", ("Api-Version", "1"));
        (_, _, HttpResponseMessage current) = await GetAsync(client, "/api/users", ("Api-Version", "2"));

        Assert.Equal("v1", server);
        Assert.Equal(["@1767225600"], old.Headers.GetValues("Deprecation"));
        Assert.Equal(["Thu, 31 Dec 2099 23:59:59 GMT"], old.Headers.GetValues("Sunset"));
        Assert.Equal(["<https://api.example.com/v2>; rel=\"successor-version\""], old.Headers.GetValues("Link"));
        Assert.False(current.Headers.Contains("Deprecation"));
        Assert.False(current.Headers.Contains("Sunset"));
    }

    [Theory]
    [InlineData("", 410)]
    [InlineData("after_sunset = \"serve\"", 200)]
    public async Task PastItsSunset_AVersionIsGone_UnlessKept(string afterSunset, int status)
    {
        await using TestUpstream v1 = await TestUpstream.StartAsync("v1");
        await using TestUpstream v2 = await TestUpstream.StartAsync("v2");
        await using TestGateway gateway = await StartAsync(v1, v2, "{ header = \"Api-Version\" }", $"deprecated = 2020-01-01\nsunset = 2021-01-01\n{afterSunset}");
        using HttpClient client = gateway.CreateClient();

        (HttpStatusCode code, _, HttpResponseMessage response) = await GetAsync(client, "/api/users", ("Api-Version", "1"));

        Assert.Equal(status, (int)code);
        Assert.Equal(["Fri, 01 Jan 2021 00:00:00 GMT"], response.Headers.GetValues("Sunset"));
        Assert.Equal(status == 410 ? 0 : 1, v1.RequestCount);
    }

    [Fact]
    public async Task AVersion_CanRewriteThePrefix()
    {
        await using TestUpstream v1 = await TestUpstream.StartAsync("v1");
        await using TestUpstream v2 = await TestUpstream.StartAsync("v2");
        await using TestGateway gateway = await StartAsync(v1, v2, "{ path = true }", "rewrite_prefix = \"/legacy\"");
        using HttpClient client = gateway.CreateClient();

        EchoResult old = EchoResult.Parse(await client.GetStringAsync("/api/v1/users/7"));
        EchoResult current = EchoResult.Parse(await client.GetStringAsync("/api/v2/users/7"));

        Assert.Equal(("v1", "/legacy/users/7"), (old.Server, old.Path));
        Assert.Equal(("v2", "/api/users/7"), (current.Server, current.Path));
    }

    [Fact]
    public async Task WithoutADefault_AVersionIsRequired()
    {
        await using TestUpstream v1 = await TestUpstream.StartAsync("v1");
        await using TestUpstream v2 = await TestUpstream.StartAsync("v2");
        await using TestGateway gateway = await StartAsync(v1, v2, "{ header = \"Api-Version\" }", defaultVersion: "");
        using HttpClient client = gateway.CreateClient();

        Assert.Equal(HttpStatusCode.BadRequest, (await GetAsync(client, "/api/users")).Status);
    }
}
