using System.Net;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

public sealed class AccessLogTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("hypergate-log-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task AccessLog_WritesOneJsonLinePerRequest_WithTheRequestsFacts()
    {
        string path = Path.Combine(_directory, "access.log");
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        TestGateway gateway = await TestGateway.StartAsync($"""
            [access_log]
            path = "{path}"

            [upstreams.backend]
            targets = ["{upstream.Address}"]

            [routes.api]
            path_prefix = "/api"
            upstream = "backend"
            """);
        await using (gateway)
        {
            using HttpClient client = gateway.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/api/orders?token=secret", new ByteArrayContent(new byte[1234]))).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/missing")).StatusCode);
            using var traced = new HttpRequestMessage(HttpMethod.Get, "/api/traced") { Headers = { { "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } } };
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(traced)).StatusCode);
        }

        // Stopping the gateway drains the writer's queue.
        string[] lines = await File.ReadAllLinesAsync(path);
        Assert.Equal(3, lines.Length);
        JsonElement post = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal("POST", post.GetProperty("method").GetString());
        Assert.Equal("/api/orders", post.GetProperty("path").GetString());
        Assert.DoesNotContain("secret", lines[0]);
        Assert.Equal(200, post.GetProperty("status").GetInt32());
        Assert.Equal(1234, post.GetProperty("bytes_in").GetInt64());
        Assert.True(post.GetProperty("bytes_out").GetInt64() > 0);
        Assert.Equal("127.0.0.1", post.GetProperty("client").GetString());
        Assert.Equal("api", post.GetProperty("route").GetString());
        Assert.Equal("backend", post.GetProperty("upstream").GetString());
        Assert.Equal(upstream.Address, post.GetProperty("destination").GetString());
        Assert.True(post.GetProperty("duration_ms").GetDouble() >= post.GetProperty("upstream_ms").GetDouble());
        Assert.Matches("^[0-9a-f]{32}$", post.GetProperty("trace_id").GetString());
        Assert.True(DateTimeOffset.TryParse(post.GetProperty("time").GetString(), out _));

        JsonElement missing = JsonDocument.Parse(lines[1]).RootElement;
        Assert.Equal(404, missing.GetProperty("status").GetInt32());
        Assert.Equal("no_route", missing.GetProperty("rejection").GetString());
        Assert.False(missing.TryGetProperty("route", out _));

        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", JsonDocument.Parse(lines[2]).RootElement.GetProperty("trace_id").GetString());
    }

    [Fact]
    public async Task AccessLog_RotatesBySize_KeepingMaxFiles()
    {
        string path = Path.Combine(_directory, "access.log");
        TestGateway gateway = await TestGateway.StartAsync($"""
            [access_log]
            path = "{path}"
            max_size = 4096
            max_files = 2

            [routes.mock]
            path_prefix = "/"
            respond = {"{"} status = 204 {"}"}
            """);
        await using (gateway)
        {
            using HttpClient client = gateway.CreateClient();
            for (int i = 0; i < 100; i++)
            {
                await client.GetAsync($"/request/{i}");
            }
        }

        Assert.True(File.Exists(path + ".1") && File.Exists(path + ".2"));
        Assert.False(File.Exists(path + ".3"));
        foreach (string file in new[] { path, path + ".1", path + ".2" })
        {
            Assert.InRange(new FileInfo(file).Length, 1, 4096);
        }

        // Nothing is lost within the files kept: the newest lines are the last requests, in order.
        string[] newest = await File.ReadAllLinesAsync(path);
        Assert.EndsWith("/request/99", JsonDocument.Parse(newest[^1]).RootElement.GetProperty("path").GetString());
    }

    [Fact]
    public async Task ARetriedRequest_IsOneLine_NamingTheDestinationThatAnswered_AndItsRetries()
    {
        string path = Path.Combine(_directory, "retries.log");
        await using TestUpstream failing = await TestUpstream.StartAsync("failing");
        await using TestUpstream working = await TestUpstream.StartAsync("working");
        failing.FailStatus = 503;
        TestGateway gateway = await TestGateway.StartAsync($$"""
            [access_log]
            path = "{{path}}"
            [upstreams.backend]
            targets = ["{{failing.Address}}", "{{working.Address}}"]
            balance = "round_robin"
            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            retries = { attempts = 1, on = [503], budget_percent = 100 }
            """);
        await using (gateway)
        {
            using HttpClient client = gateway.CreateClient();
            for (int i = 0; i < 6; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/{i}")).StatusCode);
            }
        }

        JsonElement[] lines = [.. (await File.ReadAllLinesAsync(path)).Select(line => JsonDocument.Parse(line).RootElement)];
        Assert.Equal(6, lines.Length);
        JsonElement[] retried = [.. lines.Where(line => line.TryGetProperty("retries", out _))];
        Assert.Equal(failing.RequestCount, retried.Length);
        Assert.All(retried, line =>
        {
            Assert.Equal(1, line.GetProperty("retries").GetInt32());
            Assert.Equal(working.Address, line.GetProperty("destination").GetString());
            Assert.Equal(200, line.GetProperty("status").GetInt32());
        });
    }
}
