using System.Net;
using HyperGate.FunctionalTests.Infrastructure;
using static HyperGate.FunctionalTests.Infrastructure.PrometheusText;

namespace HyperGate.FunctionalTests;

public class MetricsTests
{
    [Fact]
    public async Task Metrics_AfterKnownTraffic_CountEveryRequestByRouteStatusAndReason()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [admin]
            listen = "127.0.0.1:0"

            [upstreams.backend]
            targets = ["{upstream.Address}"]

            [routes.api]
            path_prefix = "/api"
            upstream = "backend"
            strip_prefix = true

            [routes.mock]
            path = "/mock"
            respond = {"{"} status = 200, body = "hello" {"}"}
            """);
        using HttpClient client = gateway.CreateClient();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/ok")).StatusCode);
        }

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/api/status/503")).StatusCode);
        }

        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/nowhere")).StatusCode);
        }

        Assert.Equal("hello", await client.GetStringAsync("/mock"));

        using HttpClient admin = gateway.CreateAdminClient();
        string metrics = await admin.GetStringAsync("/metrics");
        Assert.Equal(5, Value(metrics, "hypergate_requests_total", ("route", "api"), ("upstream", "backend"), ("status_class", "2xx")));
        Assert.Equal(3, Value(metrics, "hypergate_requests_total", ("route", "api"), ("upstream", "backend"), ("status_class", "5xx")));
        Assert.Equal(2, Value(metrics, "hypergate_requests_total", ("route", "none"), ("status_class", "4xx")));
        Assert.Equal(1, Value(metrics, "hypergate_requests_total", ("route", "mock"), ("status_class", "2xx")));
        Assert.Equal(2, Value(metrics, "hypergate_rejections_total", ("reason", "no_route")));
        Assert.Equal(8, Value(metrics, "hypergate_request_duration_seconds_count", ("route", "api")));
        Assert.Equal(8, Value(metrics, "hypergate_upstream_duration_seconds_count", ("route", "api")));
        Assert.Equal(8, Value(metrics, "hypergate_request_duration_seconds_bucket", ("route", "api"), ("le", "+Inf")));
        Assert.Equal(5, Value(metrics, "hypergate_response_body_bytes_total", ("route", "mock")));

        // The client's keep-alive connection is open; the pool holds the upstream connection idle.
        Assert.Equal(1, Value(metrics, "hypergate_downstream_connections"));
        Assert.Equal(1, Value(metrics, "hypergate_upstream_connections", ("upstream", "backend"), ("destination", upstream.Address), ("state", "idle")));
    }

    [Fact]
    public async Task Metrics_PolicyCounters_BodyTransformsValidationsAndVersions_AreExported()
    {
        // These counters are process-wide (every gateway's policies share one meter): the route names are this test's own.
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        string schema = Path.Combine(Directory.CreateTempSubdirectory("metrics-").FullName, "order.json");
        await File.WriteAllTextAsync(schema, """{ "type": "object", "required": ["sku"] }""");
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [admin]
            listen = "127.0.0.1:0"

            [upstreams.backend]
            targets = ["{{upstream.Address}}"]

            [routes.metered_json]
            path_prefix = "/json"
            upstream = "backend"
            rewrite = "/echo-body"
            request_body = { remove = ["/x"] }
            validate = { schema = "{{schema.Replace("\\", "/")}}" }

            [routes.metered_versions]
            path_prefix = "/v"
            version_by = { header = "Api-Version" }
            default_version = "2"

            [routes.metered_versions.versions.1]
            upstream = "backend"
            deprecated = 2020-01-01

            [routes.metered_versions.versions.2]
            upstream = "backend"
            """);
        using HttpClient client = gateway.CreateClient();
        StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/json", Json("""{"sku":"a","x":1}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/json", Json("""{"x":1}"""))).StatusCode);
        using var old = new HttpRequestMessage(HttpMethod.Get, "/v/users") { Headers = { { "Api-Version", "1" } } };
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(old)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v/users")).StatusCode);

        using HttpClient admin = gateway.CreateAdminClient();
        string metrics = await admin.GetStringAsync("/metrics");
        Assert.Equal(1, Value(metrics, "hypergate_body_transforms_total", ("route", "metered_json"), ("direction", "request"), ("outcome", "transformed")));
        Assert.Equal(1, Value(metrics, "hypergate_validations_total", ("route", "metered_json"), ("direction", "request"), ("outcome", "valid")));
        Assert.Equal(1, Value(metrics, "hypergate_validations_total", ("route", "metered_json"), ("direction", "request"), ("outcome", "invalid")));
        Assert.Equal(1, Value(metrics, "hypergate_api_version_requests_total", ("route", "metered_versions"), ("version", "1"), ("deprecated", "true")));
        Assert.Equal(1, Value(metrics, "hypergate_api_version_requests_total", ("route", "metered_versions"), ("version", "2"), ("deprecated", "false")));
    }

    [Fact]
    public async Task Metrics_RateLimitAndAuthOutcomes_AreCountedPerLimitAndReason()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [admin]
            listen = "127.0.0.1:0"

            [rate_limits.tight]
            key = "ip"
            rate = 2
            per = "1h"

            [consumers.app]
            api_keys = ["{Security.CredentialHashes.HashKey("k1")}"]

            [auth.keys]
            type = "api_key"

            [upstreams.backend]
            targets = ["{upstream.Address}"]

            [routes.limited]
            path_prefix = "/limited"
            upstream = "backend"
            rate_limit = ["tight"]

            [routes.private]
            path_prefix = "/private"
            upstream = "backend"
            auth = ["keys"]
            """);
        using HttpClient client = gateway.CreateClient();
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            statuses.Add((await client.GetAsync("/limited")).StatusCode);
        }

        Assert.Equal(2, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/private")).StatusCode);
        using var wrongKey = new HttpRequestMessage(HttpMethod.Get, "/private") { Headers = { { "X-API-Key", "nope" } } };
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(wrongKey)).StatusCode);

        using HttpClient admin = gateway.CreateAdminClient();
        string metrics = await admin.GetStringAsync("/metrics");
        Assert.Equal(2, Value(metrics, "hypergate_rate_limit_decisions_total", ("limit", "tight"), ("decision", "allowed")));
        Assert.Equal(3, Value(metrics, "hypergate_rate_limit_decisions_total", ("limit", "tight"), ("decision", "limited")));
        Assert.Equal(3, Value(metrics, "hypergate_rejections_total", ("reason", "rate_limited")));
        Assert.Equal(1, Value(metrics, "hypergate_auth_failures_total", ("route", "private"), ("reason", "missing_credentials")));
        Assert.Equal(1, Value(metrics, "hypergate_auth_failures_total", ("route", "private"), ("reason", "invalid_credentials")));
    }

    [Fact]
    public async Task Metrics_FromTheStart_ExportReloadsAtZeroByResult_AndTheServiceName()
    {
        string path = Path.Combine(Path.GetTempPath(), $"hypergate-{Guid.NewGuid():N}.toml");
        File.WriteAllText(path, TestGateway.WithServer("""
            [admin]
            listen = "127.0.0.1:0"
            [routes.hello]
            path = "/hello"
            respond = { status = 200 }
            """));
        try
        {
            await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);
            using HttpClient admin = gateway.CreateAdminClient();

            string atStart = await admin.GetStringAsync("/metrics");
            foreach (string result in new[] { "applied", "unchanged", "refused" })
            {
                Assert.Equal(0, Find(atStart, "hypergate_config_reloads_total", ("result", result)));
            }

            Assert.Equal(1, Find(atStart, "target_info", ("service_name", "hypergate")));

            // The file has not changed: the reload is counted as unchanged, not as applied.
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/reload", null)).StatusCode);
            string afterReload = await admin.GetStringAsync("/metrics");
            Assert.Equal(1, Value(afterReload, "hypergate_config_reloads_total", ("result", "unchanged")));
            Assert.Equal(0, Value(afterReload, "hypergate_config_reloads_total", ("result", "applied")));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Metrics_ClientClosingBeforeItsRequestLine_IsAClientClose_NotARejection()
    {
        await using TestGateway gateway = await TestGateway.StartAsync("""
            [admin]
            listen = "127.0.0.1:0"
            [routes.hello]
            path = "/hello"
            respond = { status = 200 }
            """);
        using RawClient client = gateway.ConnectRaw();
        await client.SendAsync("GET /hel");
        client.EndSending();

        // The gateway counts the close before closing its side, and answers nothing: nothing was asked.
        Assert.True(await client.IsClosedAsync());
        using HttpClient admin = gateway.CreateAdminClient();
        string metrics = await admin.GetStringAsync("/metrics");
        Assert.Equal(1, Value(metrics, "hypergate_downstream_client_closes_total"));
        Assert.Null(Find(metrics, "hypergate_rejections_total", ("reason", "invalid_request_line")));
    }

    [Fact]
    public async Task Metrics_ClusterLimitWithItsStoreDownInDenyMode_CountsUnavailable_NotLimited()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [admin]
            listen = "127.0.0.1:0"
            [cluster]
            redis = "127.0.0.1:{TestPorts.Free()},connectTimeout=200"
            [rate_limits.shared]
            key = "ip"
            rate = 100
            per = "1m"
            scope = "cluster"
            on_store_failure = "deny"
            [upstreams.backend]
            targets = ["{upstream.Address}"]
            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            rate_limit = ["shared"]
            """);
        using HttpClient client = gateway.CreateClient();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/")).StatusCode);
        }

        using HttpClient admin = gateway.CreateAdminClient();
        string metrics = await admin.GetStringAsync("/metrics");
        Assert.Equal(3, Value(metrics, "hypergate_rate_limit_decisions_total", ("limit", "shared"), ("decision", "unavailable")));
        Assert.Equal(0, Value(metrics, "hypergate_rate_limit_decisions_total", ("limit", "shared"), ("decision", "limited")));
        Assert.Equal(0, upstream.RequestCount);
    }
}
