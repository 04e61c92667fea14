using System.Net;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

public sealed class AdminApiTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("hypergate-admin-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string WriteConfig(string toml)
    {
        string path = Path.Combine(_directory, "hypergate.toml");
        File.WriteAllText(path, TestGateway.WithServer(toml));
        return path;
    }

    private static string Config(string upstream, string extraRoutes = "") => $"""
        [admin]
        listen = "127.0.0.1:0"

        [consumers.app]
        api_keys = ["sha256:0000000000000000000000000000000000000000000000000000000000000000"]

        [auth.jwt]
        type = "jwt"
        issuer = "https://issuer.example"
        audiences = ["api"]
        algorithms = ["HS256"]
        secret = "a-very-secret-signing-key-of-32-bytes!"

        [upstreams.backend]
        targets = ["{upstream}"]

        [routes.api]
        path_prefix = "/api"
        upstream = "backend"
        {extraRoutes}
        """;

    [Fact]
    public async Task HealthReadyStatusConfigAndExplain_DescribeTheRunningGateway()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(WriteConfig(Config(upstream.Address)));
        using HttpClient admin = gateway.CreateAdminClient();

        Assert.Equal("alive", (await GetJson(admin, "/health")).GetProperty("status").GetString());
        Assert.Equal("ready", (await GetJson(admin, "/ready")).GetProperty("status").GetString());

        JsonElement status = await GetJson(admin, "/status");
        Assert.Equal("api", status.GetProperty("routes")[0].GetProperty("name").GetString());
        JsonElement destination = status.GetProperty("upstreams")[0].GetProperty("destinations")[0];
        Assert.Equal(upstream.Address, destination.GetProperty("address").GetString());
        Assert.Equal($"http://{gateway.EndPoint}", status.GetProperty("listeners")[0].GetString());
        Assert.Matches("^[0-9a-f]{12}$", status.GetProperty("config").GetProperty("version").GetString());

        string config = await admin.GetStringAsync("/config");
        Assert.DoesNotContain("a-very-secret", config);
        Assert.DoesNotContain("sha256:0000", config);
        Assert.Equal("[redacted]", JsonDocument.Parse(config).RootElement.GetProperty("config").GetProperty("auth").GetProperty("jwt").GetProperty("secret").GetString());

        JsonElement explain = await GetJson(admin, "/explain?method=GET&host=localhost&path=/api/users/7");
        Assert.Equal("api", explain.GetProperty("route").GetString());
        JsonElement miss = await GetJson(admin, "/explain?method=GET&host=localhost&path=/other");
        Assert.Equal(JsonValueKind.Null, miss.GetProperty("route").ValueKind);
    }

    [Fact]
    public async Task Reload_AnInvalidFileIsRefusedWithItsErrors_AndTheRunningConfigKeepsServing()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        string path = WriteConfig(Config(upstream.Address));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);
        using HttpClient admin = gateway.CreateAdminClient();
        using HttpClient client = gateway.CreateClient();
        string before = (await GetJson(admin, "/status")).GetProperty("config").GetProperty("version").GetString()!;

        File.WriteAllText(path, TestGateway.WithServer(Config(upstream.Address, "\n[routes.broken]\npath_prefix = \"/b\"\nupstream = \"nowhere\"\n")));
        HttpResponseMessage refused = await admin.PostAsync("/reload", null);
        Assert.Equal(HttpStatusCode.UnprocessableContent, refused.StatusCode);
        JsonElement error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0];
        Assert.Matches(@"hypergate\.toml:\d+:\d+$", error.GetProperty("location").GetString());
        Assert.Contains("nowhere", error.GetProperty("message").GetString());
        Assert.Equal(before, (await GetJson(admin, "/status")).GetProperty("config").GetProperty("version").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/x")).StatusCode);

        File.WriteAllText(path, TestGateway.WithServer(Config(upstream.Address, "\n[routes.added]\npath = \"/added\"\nrespond = { status = 202 }\n")));
        HttpResponseMessage applied = await admin.PostAsync("/reload", null);
        Assert.True(applied.StatusCode == HttpStatusCode.OK, await applied.Content.ReadAsStringAsync());
        HttpResponseMessage added = await client.GetAsync("/added");
        Assert.True(added.StatusCode == HttpStatusCode.Accepted, await applied.Content.ReadAsStringAsync() + await added.Content.ReadAsStringAsync());
        Assert.NotEqual(before, (await GetJson(admin, "/status")).GetProperty("config").GetProperty("version").GetString());
    }

    [Fact]
    public async Task Reload_WhenTheFileChanges_TheNewConfigIsAppliedWithoutARequest()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        string path = WriteConfig(Config(upstream.Address).Replace("[admin]", "[server]\nlisten = [\"127.0.0.1:0\"]\nwatch_config = true\n\n[admin]"));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);
        var reloaded = new TaskCompletionSource<Hosting.ReloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        gateway.Host.Reloader.Reloaded += result => reloaded.TrySetResult(result);

        File.WriteAllText(path, File.ReadAllText(path) + "\n[routes.watched]\npath = \"/watched\"\nrespond = { status = 202 }\n");
        Hosting.ReloadResult result = await reloaded.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(result.Applied);
        using HttpClient client = gateway.CreateClient();
        Assert.Equal(HttpStatusCode.Accepted, (await client.GetAsync("/watched")).StatusCode);
    }

    private static async Task<JsonElement> GetJson(HttpClient client, string path) =>
        JsonDocument.Parse(await client.GetStringAsync(path)).RootElement;
}
