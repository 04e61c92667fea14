using System.Net;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Security;

namespace HyperGate.FunctionalTests;

public class AccessControlTests
{
    private static string Field(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(", ", values) : string.Empty;

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, path);
        foreach ((string name, string value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await client.SendAsync(request);
    }

    [Fact]
    public async Task IpFilters_GlobalAndPerRoute_WithTheClientFromTrustedProxies()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [server]
            listen = ["127.0.0.1:0"]
            trusted_proxies = ["127.0.0.1"]

            [access]
            deny_ips = ["203.0.113.0/24", "2001:db8::/32"]

            [upstreams.backend]
            targets = ["{upstream.Address}"]

            [routes.admin]
            path_prefix = "/admin"
            upstream = "backend"
            allow_ips = ["10.0.0.0/8"]

            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            """);
        using HttpClient client = gateway.CreateClient();

        (string Path, string Client, HttpStatusCode Expected)[] cases =
        [
            ("/x", "198.51.100.7", HttpStatusCode.OK),
            ("/x", "203.0.113.9", HttpStatusCode.Forbidden),
            ("/nowhere-special", "2001:db8::1", HttpStatusCode.Forbidden),
            ("/admin/users", "198.51.100.7", HttpStatusCode.Forbidden),
            ("/admin/users", "10.1.2.3", HttpStatusCode.OK),
        ];
        foreach ((string path, string clientAddress, HttpStatusCode expected) in cases)
        {
            using HttpResponseMessage response = await SendAsync(client, HttpMethod.Get, path, ("X-Forwarded-For", clientAddress));
            Assert.True(expected == response.StatusCode, $"{path} from {clientAddress}: {response.StatusCode}");
        }

        Assert.Equal(2, upstream.RequestCount);
    }

    [Fact]
    public async Task Cors_PreflightsAnsweredAtTheGateway_ExactOriginEchoed_UpstreamCopiesReplaced()
    {
        await using var upstream = new RawUpstream((_, _) => RawReply.Text(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Credentials: false\r\n\r\nok"));
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [consumers.app]
            api_keys = ["{{CredentialHashes.HashKey("app-key")}}"]

            [auth.keys]
            type = "api_key"

            [upstreams.backend]
            targets = ["{{upstream.Address}}"]

            [routes.api]
            path_prefix = "/api"
            methods = ["GET", "PUT"]
            upstream = "backend"
            auth = ["keys"]
            cors = { origins = ["https://app.example.com"], methods = ["GET", "PUT"], headers = ["content-type", "x-api-key"], credentials = true, max_age = "10m" }
            """);
        using HttpClient client = gateway.CreateClient();
        const string App = "https://app.example.com";

        // A preflight needs no credentials and never reaches the upstream.
        using HttpResponseMessage preflight = await SendAsync(client, HttpMethod.Options, "/api/items",
            ("Origin", App), ("Access-Control-Request-Method", "PUT"), ("Access-Control-Request-Headers", "Content-Type, X-Api-Key"));
        Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.Equal(App, Field(preflight, "Access-Control-Allow-Origin"));
        Assert.Equal("true", Field(preflight, "Access-Control-Allow-Credentials"));
        Assert.Equal("600", Field(preflight, "Access-Control-Max-Age"));
        Assert.Contains("PUT", Field(preflight, "Access-Control-Allow-Methods"));
        Assert.Equal("Origin", Field(preflight, "Vary"));

        using HttpResponseMessage evilPreflight = await SendAsync(client, HttpMethod.Options, "/api/items", ("Origin", "https://evil.example"), ("Access-Control-Request-Method", "PUT"));
        using HttpResponseMessage deletePreflight = await SendAsync(client, HttpMethod.Options, "/api/items", ("Origin", App), ("Access-Control-Request-Method", "DELETE"));
        Assert.Equal(HttpStatusCode.Forbidden, evilPreflight.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, deletePreflight.StatusCode);
        Assert.Equal(0, upstream.RequestCount);

        // The actual request: the gateway's answer replaces the upstream's wildcard.
        using HttpResponseMessage actual = await SendAsync(client, HttpMethod.Get, "/api/items", ("Origin", App), ("X-Api-Key", "app-key"));
        Assert.Equal(HttpStatusCode.OK, actual.StatusCode);
        Assert.Equal(App, Field(actual, "Access-Control-Allow-Origin"));
        Assert.Equal("true", Field(actual, "Access-Control-Allow-Credentials"));

        // Other origins get no CORS fields at all; a 401 to the allowed origin stays readable by its page.
        using HttpResponseMessage evil = await SendAsync(client, HttpMethod.Get, "/api/items", ("Origin", "https://evil.example"), ("X-Api-Key", "app-key"));
        using HttpResponseMessage unauthorized = await SendAsync(client, HttpMethod.Get, "/api/items", ("Origin", App));
        Assert.Empty(Field(evil, "Access-Control-Allow-Origin"));
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal(App, Field(unauthorized, "Access-Control-Allow-Origin"));
    }
}
