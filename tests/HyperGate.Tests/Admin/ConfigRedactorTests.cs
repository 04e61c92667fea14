using HyperGate.Admin;
using HyperGate.Configuration;

namespace HyperGate.Tests.Admin;

public class ConfigRedactorTests
{
    [Fact]
    public void ToJson_ReplacesEveryCredential_AndKeepsEverythingElse()
    {
        const string toml = """
            [server]
            listen = ["127.0.0.1:8080"]

            [cluster]
            redis = "127.0.0.1:6379,password=hunter2,ssl=false"

            [consumers.app]
            api_keys = ["sha256:abcdef"]
            basic = { user = "ops", password_hash = "pbkdf2-sha256:1:salt:hash" }

            [auth.jwt]
            type = "jwt"
            secret = "${ENV:JWT_SECRET}"
            issuer = "https://issuer.example"

            [routes.all]
            path_prefix = "/"
            respond = { status = 204 }
            """;
        var errors = new List<ConfigError>();
        string json = ConfigRedactor.ToJson(TomlDocument.Parse(toml, "t.toml", errors)).ToJsonString();

        Assert.Empty(errors);
        foreach (string secret in new[] { "hunter2", "sha256:abcdef", "pbkdf2", "JWT_SECRET" })
        {
            Assert.DoesNotContain(secret, json);
        }

        Assert.Contains("\"redis\":\"127.0.0.1:6379,password=[redacted],ssl=false\"", json);
        Assert.Contains("\"user\":\"ops\"", json);
        Assert.Contains("\"issuer\":\"https://issuer.example\"", json);
        Assert.Contains("\"listen\":[\"127.0.0.1:8080\"]", json);
        Assert.Contains("\"status\":204", json);
    }
}
