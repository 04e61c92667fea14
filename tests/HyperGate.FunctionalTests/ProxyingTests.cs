using System.Net;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

public class ProxyingTests
{
    [Fact]
    public async Task Get_IsForwardedWithPathQueryAndForwardingHeaders()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/users/7?expand=true&x=%20");
        request.Headers.Add("X-Forwarded-For", "6.6.6.6");
        request.Headers.Add("X-Custom", "kept");

        using HttpResponseMessage response = await client.SendAsync(request);
        EchoResult echo = EchoResult.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("GET", echo.Method);
        Assert.Equal("/users/7", echo.Path);
        Assert.Equal("?expand=true&x=%20", echo.Query);
        Assert.Equal("127.0.0.1", echo.Headers["X-Forwarded-For"]);
        Assert.Equal("http", echo.Headers["X-Forwarded-Proto"]);
        Assert.Equal(gateway.EndPoint.ToString(), echo.Headers["X-Forwarded-Host"]);
        Assert.Equal(gateway.EndPoint.ToString(), echo.Headers["Host"]);
        Assert.Equal("1.1 hypergate", echo.Headers["Via"]);
        Assert.Equal("kept", echo.Headers["X-Custom"]);
    }

    [Fact]
    public async Task HopByHopHeaders_AreRemovedInBothDirections()
    {
        await using var upstream = new RawUpstream((_, _) => RawReply.Text(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: X-Upstream-Hop\r\nX-Upstream-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nX-End: 1\r\n\r\nok"));
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();
        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nTrailer: X-T\r\nProxy-Authorization: Basic x\r\nProxy-Connection: keep-alive\r\nHTTP2-Settings: AAA\r\nX-End: 1\r\n\r\n");

        RawResponse response = await client.ReadResponseAsync();

        string sent = upstream.Heads.Single();
        foreach (string removed in new[] { "X-Hop", "Keep-Alive", "TE:", "Trailer", "Proxy-Authorization", "Proxy-Connection", "HTTP2-Settings", "Connection:" })
        {
            Assert.DoesNotContain(removed, sent, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Contains("X-End: 1", sent);
        Assert.Equal("ok", response.Body);
        Assert.Null(response.Header("X-Upstream-Hop"));
        Assert.Null(response.Header("Keep-Alive"));
        Assert.Null(response.Header("Proxy-Authenticate"));
        Assert.Equal("1", response.Header("X-End"));
    }

    [Theory]
    [InlineData("strip_prefix = true", "/api/users/7", "/users/7")]
    [InlineData("strip_prefix = true", "/api", "/")]
    [InlineData("rewrite_prefix = \"/v2\"", "/api/users/7", "/v2/users/7")]
    [InlineData("rewrite_prefix = \"/\"", "/api/users", "/users")]
    [InlineData("", "/api/users", "/api/users")]
    public async Task PrefixStripAndRewrite_ChangeTheUpstreamPath(string option, string requestPath, string upstreamPath)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [upstreams.backend]
            targets = ["{upstream.Address}"]

            [routes.api]
            path_prefix = "/api"
            upstream = "backend"
            {option}
            """);
        using HttpClient client = gateway.CreateClient();
        EchoResult echo = EchoResult.Parse(await client.GetStringAsync(requestPath + "?q=1"));
        Assert.Equal(upstreamPath, echo.Path);
        Assert.Equal("?q=1", echo.Query);
    }

    [Fact]
    public async Task PreserveHostFalse_SendsTheDestinationAddress()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, "preserve_host = false");
        using HttpClient client = gateway.CreateClient();
        EchoResult echo = EchoResult.Parse(await client.GetStringAsync("/"));
        Assert.Equal(upstream.Address, echo.Headers["Host"]);
    }

    [Fact]
    public async Task PathIsNormalizedBeforeRoutingAndForwarding()
    {
        await using TestUpstream publicSide = await TestUpstream.StartAsync("public");
        await using TestUpstream adminSide = await TestUpstream.StartAsync("admin");
        await using TestGateway gateway = await StartPublicAndAdminAsync(publicSide, adminSide);
        using RawClient client = gateway.ConnectRaw();
        foreach (string spelling in new[] { "/x/../admin", "/%61dmin", "//admin", "/admin/.", "/public/%2e%2e/admin" })
        {
            await client.SendAsync($"GET {spelling} HTTP/1.1\r\nHost: a\r\n\r\n");
            RawResponse response = await client.ReadResponseAsync();
            EchoResult echo = EchoResult.Parse(response.Body);
            Assert.Equal("admin", echo.Server);
            Assert.StartsWith("/admin", echo.Path);
        }

        await client.SendAsync("GET /admin%2f.. HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(400, (await client.ReadResponseAsync()).Status);
        Assert.Equal(0, publicSide.RequestCount);
    }

    [Fact]
    public async Task CaseInsensitiveRouting_EverySpellingReachesTheSameRoute()
    {
        await using TestUpstream publicSide = await TestUpstream.StartAsync("public");
        await using TestUpstream adminSide = await TestUpstream.StartAsync("admin");
        await using TestGateway gateway = await StartPublicAndAdminAsync(publicSide, adminSide, "case_sensitive_routing = false");
        using HttpClient client = gateway.CreateClient();
        foreach (string spelling in new[] { "/ADMIN", "/Admin/x", "/%41dmin", "/x/../aDMIN" })
        {
            Assert.Equal("admin", EchoResult.Parse(await client.GetStringAsync(spelling)).Server);
        }

        Assert.Equal(0, publicSide.RequestCount);
    }

    /// <summary>A catch-all route to one upstream and an /admin route to another.</summary>
    private static Task<TestGateway> StartPublicAndAdminAsync(TestUpstream publicSide, TestUpstream adminSide, string serverOptions = "") =>
        TestGateway.StartAsync($"""
            [server]
            listen = ["127.0.0.1:0"]
            {serverOptions}
            [upstreams.public]
            targets = ["{publicSide.Address}"]
            [upstreams.admin]
            targets = ["{adminSide.Address}"]
            [routes.public]
            path_prefix = "/"
            upstream = "public"
            [routes.admin]
            path_prefix = "/admin"
            upstream = "admin"
            """);

    [Fact]
    public async Task RoutesByHostMethodAndHeader()
    {
        await using TestUpstream a = await TestUpstream.StartAsync("a");
        await using TestUpstream b = await TestUpstream.StartAsync("b");
        await using TestUpstream c = await TestUpstream.StartAsync("c");
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [upstreams.a]
            targets = ["{{a.Address}}"]
            [upstreams.b]
            targets = ["{{b.Address}}"]
            [upstreams.c]
            targets = ["{{c.Address}}"]

            [routes.any]
            path_prefix = "/"
            upstream = "a"
            [routes.api]
            host = "*.example.com"
            path_prefix = "/"
            methods = ["POST"]
            upstream = "b"
            [routes.beta]
            host = "*.example.com"
            path_prefix = "/"
            headers = { x-beta = "yes" }
            upstream = "c"
            """);
        using HttpClient client = gateway.CreateClient();

        async Task<string> ServerFor(HttpMethod method, string host, string? beta = null)
        {
            using var request = new HttpRequestMessage(method, "/x");
            request.Headers.Host = host;
            if (beta is not null)
            {
                request.Headers.Add("X-Beta", beta);
            }

            using HttpResponseMessage response = await client.SendAsync(request);
            return EchoResult.Parse(await response.Content.ReadAsStringAsync()).Server;
        }

        Assert.Equal("a", await ServerFor(HttpMethod.Get, "other.org"));
        Assert.Equal("b", await ServerFor(HttpMethod.Post, "api.example.com"));
        Assert.Equal("c", await ServerFor(HttpMethod.Get, "api.example.com", "yes"));
        Assert.Equal("a", await ServerFor(HttpMethod.Get, "api.example.com", "no"));
    }

    [Fact]
    public async Task NoRouteAndWrongMethod_AreJsonErrors_AndConnectionStaysOpen()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [upstreams.backend]
            targets = ["{upstream.Address}"]
            [routes.users]
            path_prefix = "/users"
            methods = ["GET", "HEAD"]
            upstream = "backend"
            """);
        using RawClient client = gateway.ConnectRaw();
        await client.SendAsync("GET /orders HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse notFound = await client.ReadResponseAsync();
        await client.SendAsync("DELETE /users/1 HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse notAllowed = await client.ReadResponseAsync();

        Assert.Equal(404, notFound.Status);
        Assert.Equal("application/json", notFound.Header("Content-Type"));
        Assert.Equal("no_route", JsonDocument.Parse(notFound.Body).RootElement.GetProperty("error").GetString());
        Assert.Equal(405, notAllowed.Status);
        Assert.Equal("GET, HEAD", notAllowed.Header("Allow"));
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task DirectResponseRoute_AnswersWithoutUpstream()
    {
        await using TestGateway gateway = await TestGateway.StartAsync("""
            [routes.maintenance]
            path_prefix = "/"
            respond = { status = 503, body = "down for maintenance", content_type = "text/plain" }
            """);
        using HttpClient client = gateway.CreateClient();
        using HttpResponseMessage response = await client.GetAsync("/anything");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("down for maintenance", await response.Content.ReadAsStringAsync());
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.ToString());
        Assert.NotNull(response.Headers.Date);

        using HttpResponseMessage head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/"));
        Assert.Equal(20, head.Content.Headers.ContentLength);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task KeepAlive_ReusesOnePooledUpstreamConnection()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();
        var connectionIds = new HashSet<string>();
        for (int i = 0; i < 5; i++)
        {
            connectionIds.Add(EchoResult.Parse(await client.GetStringAsync("/")).ConnectionId);
        }

        Assert.Single(connectionIds);
        HyperGate.Upstreams.ConnectionPool pool = gateway.Host.Runtime.Snapshot.Upstreams["backend"].Destinations[0].Pool;
        Assert.Equal((1, 0), (pool.IdleCount, pool.ActiveCount));
    }

    [Fact]
    public async Task Post_BodyIsForwardedWithContentLength()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();
        using HttpResponseMessage response = await client.PostAsync("/items", new StringContent("""{"name":"widget","count":3}"""));
        EchoResult echo = EchoResult.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("POST", echo.Method);
        Assert.Equal(echo.BodyLength.ToString(), echo.Headers["Content-Length"]);
        Assert.True(echo.BodyLength > 10);
    }
}
