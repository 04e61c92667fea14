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

/// <summary>JSON body transforms through a real upstream that answers with what it received.</summary>
public class JsonBodyTransformTests
{
    private static async Task<TestGateway> StartAsync(TestUpstream upstream, string routeExtras) => await TestGateway.StartAsync($$"""
        [upstreams.backend]
        targets = ["{{upstream.Address}}"]

        [routes.users]
        path_prefix = "/"
        upstream = "backend"
        {{routeExtras}}
        """);

    private static StringContent Json(string json, string type = "application/json") => new(json, System.Text.Encoding.UTF8, type);

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/vnd.acme.user+json")]
    public async Task RequestBody_IsTransformedBeforeItIsForwarded_WithItsNewLength(string type)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, """
            request_body = { rename = { "/user_name" = "/username" }, remove = ["/password"], set = { "/source" = "gateway" } }
            """);
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await client.PostAsync("/echo-body", Json("""{"user_name":"alice","password":"hunter2"}""", type));

        string received = await response.Content.ReadAsStringAsync();
        Assert.Equal("""{"username":"alice","source":"gateway"}""", received);
        Assert.Equal(received.Length.ToString(), Assert.Single(response.Headers.GetValues("X-Received-Length")));
    }

    [Fact]
    public async Task ChunkedRequestBody_IsReadWhole_AndForwardedWithALength()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, """request_body = { remove = ["/b"] }""");
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("POST /echo-body HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\nA\r\n1,\"b\":2,\"c\r\n4\r\n\":3}\r\n0\r\n\r\n");
        string head = await client.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Contains("X-Received-Length: 13", head);
    }

    [Fact]
    public async Task MalformedJsonRequest_Is400ProblemSayingWhere_AndNeverForwarded()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, """request_body = { remove = ["/password"] }""");
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await client.PostAsync("/echo-body", Json("{\"a\": 1,\n \"b\": }"));

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        using var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("urn:hypergate:problem:invalid-json", problem.RootElement.GetProperty("type").GetString());
        Assert.Equal(400, problem.RootElement.GetProperty("status").GetInt32());
        Assert.StartsWith("At line 2, byte ", problem.RootElement.GetProperty("detail").GetString());
        Assert.Equal(0, upstream.RequestCount);

        // The body was read whole: the connection carries the next request.
        using HttpResponseMessage next = await client.PostAsync("/echo-body", Json("""{"password":"x","a":1}"""));
        Assert.Equal("""{"a":1}""", await next.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RequestBodyOverTheLimit_Is413_AndNeverForwarded()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, """request_body = { remove = ["/x"], max_size = "64B" }""");
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await client.PostAsync("/echo-body", Json($$"""{"x":"{{new string('a', 100)}}"}"""));

        Assert.Equal(System.Net.HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task NonJsonRequestBody_IsForwardedUntouched()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, """request_body = { remove = ["/x"] }""");
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await client.PostAsync("/echo-body", new StringContent("{not json", System.Text.Encoding.UTF8, "text/plain"));

        Assert.Equal("{not json", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ResponseBody_IsFiltered_WithANewLength_AndAWeakETag()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, """response_body = { remove = ["/password", "/cards/*/number"], rename = { "/user_name" = "/username" } }""");
        using HttpClient client = gateway.CreateClient();
        string json = Uri.EscapeDataString("""{"user_name":"alice","password":"p","cards":[{"number":"4111","brand":"visa"}]}""");

        using HttpResponseMessage response = await client.GetAsync($"/json?json={json}");

        string body = await response.Content.ReadAsStringAsync();
        Assert.Equal("""{"username":"alice","cards":[{"brand":"visa"}]}""", body);
        Assert.Equal(body.Length, response.Content.Headers.ContentLength);
        Assert.Equal("W/\"v1\"", response.Headers.ETag!.ToString());
    }

    [Theory]
    [InlineData("pass", 200)]
    [InlineData("fail", 502)]
    public async Task AResponseOverTheLimit_IsPassedThroughUntouchedOrA502(string onTooLarge, int status)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, $$"""response_body = { remove = ["/x"], max_size = "64B", on_too_large = "{{onTooLarge}}" }""");
        using HttpClient client = gateway.CreateClient();
        string json = $$"""{"x":1,"pad":"{{new string('p', 100)}}"}""";

        using HttpResponseMessage response = await client.PostAsync("/echo-body", Json(json));

        Assert.Equal(status, (int)response.StatusCode);
        if (status == 200)
        {
            Assert.Equal(json, await response.Content.ReadAsStringAsync());
        }
    }

    [Theory]
    [InlineData("pass", 200)]
    [InlineData("fail", 502)]
    public async Task MalformedJsonResponse_IsPassedThroughOrA502(string onInvalid, int status)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, $$"""response_body = { remove = ["/x"], on_invalid = "{{onInvalid}}" }""");
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await client.GetAsync("/json?json=" + Uri.EscapeDataString("{\"x\": oops"));

        Assert.Equal(status, (int)response.StatusCode);
        if (status == 200)
        {
            Assert.Equal("{\"x\": oops", await response.Content.ReadAsStringAsync());
            Assert.Equal("\"v1\"", response.Headers.ETag!.ToString());
        }
    }
}
