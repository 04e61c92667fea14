using System.Net;
using System.Net.Http.Headers;
using System.Text;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Security;
using HyperGate.Tests.Security;
using Microsoft.IdentityModel.Tokens;

namespace HyperGate.FunctionalTests;

public class AuthTests
{
    private static readonly string KeyHash = CredentialHashes.HashKey("mobile-key-1");

    private static string Config(string upstream, string jwksUrl) => $$"""
        [consumers.mobile-app]
        api_keys = ["{{KeyHash}}"]
        claims = { tier = "silver" }

        [consumers.ci]
        basic = { user = "ci", password_hash = "{{CredentialHashes.HashPassword("ci-password", iterations: 10_000)}}" }

        [auth.corp_jwt]
        type = "jwt"
        issuer = "{{TestTokens.Issuer}}"
        audiences = ["{{TestTokens.Audience}}"]
        jwks_url = "{{jwksUrl}}"
        algorithms = ["RS256", "ES256"]

        [auth.keys]
        type = "api_key"
        header = "x-api-key"

        [auth.basic]
        type = "basic"

        [identity]
        consumer_header = "X-Consumer-Id"
        claim_headers = { tier = "X-Consumer-Tier" }

        [upstreams.backend]
        targets = ["{{upstream}}"]

        [routes.orders]
        path_prefix = "/orders"
        upstream = "backend"
        auth = ["corp_jwt", "keys", "basic"]
        require = { scopes = ["orders:read"] }

        [routes.reports]
        path_prefix = "/reports"
        upstream = "backend"
        auth = ["keys", "basic"]
        require = { claims = { tier = ["gold", "silver"] } }

        [routes.public]
        path_prefix = "/public"
        upstream = "backend"
        """;

    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string path, string? bearer = null, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        foreach ((string name, string value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await client.SendAsync(request);
    }

    [Fact]
    public async Task Jwt_FromARotatingJwks_AuthenticatesAuthorizesAndTellsTheUpstreamWhoCalled()
    {
        await using JwksServer issuer = await JwksServer.StartAsync();
        RsaSecurityKey first = TestTokens.NewRsaKey("2026-11");
        issuer.Jwks = TestTokens.Jwks(first);
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(Config(upstream.Address, issuer.Url));
        using HttpClient client = gateway.CreateClient();
        DateTime now = DateTime.UtcNow;

        // No credentials: 401 naming every accepted scheme; the upstream never sees the request.
        using HttpResponseMessage anonymous = await GetAsync(client, "/orders/1");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        string challenge = anonymous.Headers.WwwAuthenticate.ToString();
        Assert.Contains("Bearer realm=\"hypergate\"", challenge);
        Assert.Contains("Basic realm=\"hypergate\"", challenge);
        Assert.Equal(0, upstream.RequestCount);

        // A valid token with the scope: forwarded with the identity, the client's spoofed copy gone.
        string token = TestTokens.Mint(first, "RS256", now, claims: new() { ["scope"] = "orders:read", ["tier"] = "gold" });
        using HttpResponseMessage allowed = await GetAsync(client, "/orders/1", token, ("X-Consumer-Id", "admin"), ("X-Consumer-Tier", "platinum"));
        EchoResult echo = EchoResult.Parse(await allowed.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal("alice", echo.Headers["X-Consumer-Id"]);
        Assert.Equal("gold", echo.Headers["X-Consumer-Tier"]);

        // Authenticated without the scope: 403.
        string unscoped = TestTokens.Mint(first, "RS256", now, subject: "bob", claims: new() { ["scope"] = "orders:write" });
        using HttpResponseMessage forbidden = await GetAsync(client, "/orders/1", unscoped);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        // The issuer rotates to a new key: the unknown key id makes the gateway fetch the JWKS again.
        ECDsaSecurityKey second = TestTokens.NewEcKey("2026-12");
        issuer.Jwks = TestTokens.Jwks(second);
        int fetchesBefore = issuer.Fetches;
        string rotated = TestTokens.Mint(second, "ES256", now, subject: "carol", claims: new() { ["scope"] = "orders:read" });
        using HttpResponseMessage afterRotation = await GetAsync(client, "/orders/1", rotated);
        Assert.Equal(HttpStatusCode.OK, afterRotation.StatusCode);
        Assert.Equal("carol", EchoResult.Parse(await afterRotation.Content.ReadAsStringAsync()).Headers["X-Consumer-Id"]);
        Assert.Equal(fetchesBefore + 1, issuer.Fetches);

        // Tokens the gateway must refuse, whatever else they carry.
        string expired = TestTokens.Mint(second, "ES256", now.AddHours(-2), claims: new() { ["scope"] = "orders:read" });
        string forged = TestTokens.Mint(TestTokens.NewEcKey("2026-12"), "ES256", now, claims: new() { ["scope"] = "orders:read" });
        foreach (string bad in new[] { expired, forged, TestTokens.Unsigned(now), "not.a.token" })
        {
            using HttpResponseMessage refused = await GetAsync(client, "/orders/1", bad);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        Assert.Equal(2, upstream.RequestCount);
    }

    [Fact]
    public async Task ApiKeysAndBasic_IdentifyConsumers_AndClaimRulesApply()
    {
        await using JwksServer issuer = await JwksServer.StartAsync();
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(Config(upstream.Address, issuer.Url));
        using HttpClient client = gateway.CreateClient();
        string basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ci:ci-password"));
        string wrongBasic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ci:guess"));

        using HttpResponseMessage byKey = await GetAsync(client, "/reports/q3", headers: ("X-Api-Key", "mobile-key-1"));
        using HttpResponseMessage wrongKey = await GetAsync(client, "/reports/q3", headers: ("X-Api-Key", "mobile-key-2"));
        using HttpResponseMessage byPassword = await GetAsync(client, "/public/x", headers: ("Authorization", basic));
        using HttpResponseMessage noTier = await GetAsync(client, "/reports/q3", headers: ("Authorization", basic));
        using HttpResponseMessage wrongPassword = await GetAsync(client, "/reports/q3", headers: ("Authorization", wrongBasic));
        using HttpResponseMessage spoofedOnPublic = await GetAsync(client, "/public/x", headers: ("X-Consumer-Id", "admin"));

        Assert.Equal(HttpStatusCode.OK, byKey.StatusCode);
        EchoResult echo = EchoResult.Parse(await byKey.Content.ReadAsStringAsync());
        Assert.Equal("mobile-app", echo.Headers["X-Consumer-Id"]);
        Assert.Equal("silver", echo.Headers["X-Consumer-Tier"]);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);
        Assert.Equal(HttpStatusCode.OK, byPassword.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, noTier.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongPassword.StatusCode);

        // An anonymous route still drops a client's identity headers: upstreams can trust them everywhere.
        Assert.False(EchoResult.Parse(await spoofedOnPublic.Content.ReadAsStringAsync()).Headers.ContainsKey("X-Consumer-Id"));
    }

    [Fact]
    public async Task ConsumerRateLimits_CountEachAuthenticatedConsumerSeparately()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [consumers.alpha]
            api_keys = ["{{CredentialHashes.HashKey("alpha-key")}}"]

            [consumers.beta]
            api_keys = ["{{CredentialHashes.HashKey("beta-key")}}"]

            [auth.keys]
            type = "api_key"

            [rate_limits.per_consumer]
            key = "consumer"
            rate = 2
            per = "1h"

            [upstreams.backend]
            targets = ["{{upstream.Address}}"]

            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            auth = ["keys"]
            rate_limit = ["per_consumer"]
            """);
        using HttpClient client = gateway.CreateClient();

        // Same client address, two consumers: each has its own quota of 2.
        var statuses = new List<int>();
        foreach (string key in new[] { "alpha-key", "alpha-key", "alpha-key", "beta-key", "beta-key", "beta-key" })
        {
            using HttpResponseMessage response = await GetAsync(client, "/", headers: ("X-Api-Key", key));
            statuses.Add((int)response.StatusCode);
        }

        Assert.Equal([200, 200, 429, 200, 200, 429], statuses);
    }
}
