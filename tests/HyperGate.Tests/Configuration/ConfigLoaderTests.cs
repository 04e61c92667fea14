using System.Text.RegularExpressions;
using HyperGate.Configuration;
using HyperGate.Hosting;
using HyperGate.Upstreams;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Tests.Configuration;

public class ConfigLoaderTests
{
    private static string ConfDirectory => Path.Combine(AppContext.BaseDirectory, "conf");

    public static TheoryData<string> ValidFiles => [.. Directory.GetFiles(ConfDirectory, "*.toml").Concat(Directory.GetFiles(Path.Combine(ConfDirectory, "examples"), "*.toml")).Select(f => Path.GetFileName(f))];

    public static TheoryData<string> InvalidFiles => [.. Directory.GetFiles(Path.Combine(ConfDirectory, "invalid"), "*.toml").Select(f => Path.GetFileName(f))];

    [Theory]
    [MemberData(nameof(ValidFiles))]
    public async Task Load_ShippedConfig_IsValidAndCompiles(string file)
    {
        string path = File.Exists(Path.Combine(ConfDirectory, file)) ? Path.Combine(ConfDirectory, file) : Path.Combine(ConfDirectory, "examples", file);
        GatewayConfig config = ConfigLoader.Load(path);
        await using GatewayRuntime runtime = GatewayRuntime.Create(config, TimeProvider.System, NullLoggerFactory.Instance);
        Assert.Equal(config.Routes.Count, runtime.Snapshot.Routes.Routes.Count);
    }

    /// <summary>Each invalid file lists the errors it must produce as "# expect: LINE:COLUMN text" comments.</summary>
    [Theory]
    [MemberData(nameof(InvalidFiles))]
    public async Task Load_InvalidConfig_ReportsEveryErrorWithPosition(string file)
    {
        string path = Path.Combine(ConfDirectory, "invalid", file);
        var expected = File.ReadAllLines(path)
            .Select(line => Regex.Match(line, @"^# expect: (\d+):(\d+) (.+)$"))
            .Where(m => m.Success)
            .Select(m => (Line: int.Parse(m.Groups[1].Value), Column: int.Parse(m.Groups[2].Value), Text: m.Groups[3].Value))
            .ToList();
        Assert.NotEmpty(expected);

        ConfigException error = await Assert.ThrowsAsync<ConfigException>(async () =>
        {
            GatewayConfig config = ConfigLoader.Load(path);
            await using GatewayRuntime runtime = GatewayRuntime.Create(config, TimeProvider.System, NullLoggerFactory.Instance);
        });

        Assert.Equal(expected.Count, error.Errors.Count);
        foreach ((int line, int column, string text) in expected)
        {
            Assert.Contains(error.Errors, e => e.Location.Line == line && e.Location.Column == column && e.ToString().Contains(text, StringComparison.Ordinal));
        }

        Assert.All(error.Errors, e => Assert.StartsWith($"{path}:", e.ToString()));
        Assert.All(error.Errors, e => Assert.False(string.IsNullOrEmpty(e.Hint)));
    }

    [Fact]
    public void Parse_MinimalContract_BindsDefaults()
    {
        GatewayConfig config = ConfigLoader.Parse("""
            [server]
            listen = ["127.0.0.1:8080"]

            [upstreams.users]
            targets = ["127.0.0.1:9001", "127.0.0.1:9002"]

            [routes.users]
            path_prefix = "/users"
            upstream = "users"
            """, "mem.toml");

        Assert.Equal(["127.0.0.1:8080"], config.Server.Listen.Select(l => l.ToString()));
        UpstreamConfig upstream = Assert.Single(config.Upstreams);
        Assert.Equal(UpstreamSettings.Default.ConnectTimeout, upstream.ConnectTimeout);
        RouteConfig route = Assert.Single(config.Routes);
        Assert.Equal("/users", route.PathPrefix);
        Assert.True(route.PreserveHost);
        Assert.Equal(32 * 1024, config.Limits.MaxHeadSize);
    }

    [Fact]
    public void Parse_IdentityHeaders_EmptyConsumerHeaderSendsNone_AndSecretsComeFromTheEnvironment()
    {
        Environment.SetEnvironmentVariable("HYPERGATE_TEST_JWT_SECRET", "a secret from the environment, 32+ bytes long");
        GatewayConfig config = ConfigLoader.Parse("""
            [server]
            listen = ["127.0.0.1:8080"]
            [identity]
            consumer_header = ""
            claim_headers = { tier = "X-Tier" }
            [auth.jwt]
            type = "jwt"
            issuer = "i"
            audiences = ["a"]
            algorithms = ["HS256"]
            secret = "${ENV:HYPERGATE_TEST_JWT_SECRET}"
            [routes.r]
            path = "/"
            respond = { status = 200 }
            """, "test.toml");

        Assert.Null(config.Identity.ConsumerHeader);
        Assert.Equal("X-Tier", Assert.Single(config.Identity.ClaimHeaders).Value);
        Assert.Equal("a secret from the environment, 32+ bytes long", config.Auth[0].Secret);
    }
}
