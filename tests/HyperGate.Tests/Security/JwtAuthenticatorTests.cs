using System.Text;
using HyperGate.Security;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;

namespace HyperGate.Tests.Security;

public sealed class JwtAuthenticatorTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private readonly string _jwksPath = Path.GetTempFileName();
    private readonly RsaSecurityKey _rsa = TestTokens.NewRsaKey("rsa-1");
    private readonly ECDsaSecurityKey _ec = TestTokens.NewEcKey("ec-1");
    private readonly byte[] _secret = Encoding.UTF8.GetBytes("a shared secret of at least thirty-two bytes");

    public JwtAuthenticatorTests() => File.WriteAllText(_jwksPath, TestTokens.Jwks(_rsa, _ec));

    private DateTime Now => _time.GetUtcNow().UtcDateTime;

    private JwtAuthenticator Authenticator(string[]? algorithms = null, byte[]? secret = null)
    {
        var settings = new JwtSettings(TestTokens.Issuer, [TestTokens.Audience], algorithms ?? ["RS256", "ES256"], TimeSpan.FromSeconds(30), "sub", secret);
        var jwks = algorithms?.All(a => a.StartsWith("HS", StringComparison.Ordinal)) == true
            ? null
            : JwksSource.FromFile(_jwksPath, TimeSpan.FromHours(1), _time, NullLogger.Instance);
        return new JwtAuthenticator("jwt", settings, jwks, _time);
    }

    private static async Task<AuthResult> CheckAsync(JwtAuthenticator authenticator, string token)
    {
        using var exchange = TestTokens.Bearer(token);
        return await authenticator.AuthenticateAsync(exchange);
    }

    [Theory]
    [InlineData("RS256")]
    [InlineData("ES256")]
    public async Task ValidToken_GivesTheConsumerClaimAndScopes(string algorithm)
    {
        using JwtAuthenticator authenticator = Authenticator();
        SecurityKey key = algorithm == "RS256" ? _rsa : _ec;
        string token = TestTokens.Mint(key, algorithm, Now, claims: new() { ["scope"] = "orders:read orders:write", ["tier"] = "gold" });

        AuthResult result = await CheckAsync(authenticator, token);

        Assert.Equal(AuthFailure.None, result.Failure);
        Assert.Equal("alice", result.Identity!.ConsumerId);
        Assert.True(result.Identity.Scopes.SetEquals(["orders:read", "orders:write"]));
        Assert.Equal(["gold"], result.Identity.Claims["tier"]);
    }

    [Fact]
    public async Task Hs256_WithTheConfiguredSecret_IsAccepted()
    {
        using JwtAuthenticator authenticator = Authenticator(["HS256"], _secret);
        string token = TestTokens.Mint(new SymmetricSecurityKey(_secret), SecurityAlgorithms.HmacSha256, Now);

        Assert.Equal(AuthFailure.None, (await CheckAsync(authenticator, token)).Failure);
    }

    [Fact]
    public async Task Expired_AndNotYetValid_AreRefused()
    {
        using JwtAuthenticator authenticator = Authenticator();
        string expired = TestTokens.Mint(_rsa, "RS256", Now.AddMinutes(-10), lifetime: TimeSpan.FromMinutes(5));
        string future = TestTokens.Mint(_rsa, "RS256", Now, notBefore: Now.AddMinutes(5), lifetime: TimeSpan.FromMinutes(10));

        Assert.Equal(AuthFailure.Expired, (await CheckAsync(authenticator, expired)).Failure);
        Assert.Equal(AuthFailure.Expired, (await CheckAsync(authenticator, future)).Failure);
    }

    [Fact]
    public async Task ClockSkew_ToleratesAFewSeconds()
    {
        using JwtAuthenticator authenticator = Authenticator();
        string justExpired = TestTokens.Mint(_rsa, "RS256", Now.AddMinutes(-5).AddSeconds(-20), lifetime: TimeSpan.FromMinutes(5));

        Assert.Equal(AuthFailure.None, (await CheckAsync(authenticator, justExpired)).Failure);
    }

    [Fact]
    public async Task WrongSignature_WrongAudience_WrongIssuer_AreInvalid()
    {
        using JwtAuthenticator authenticator = Authenticator();
        RsaSecurityKey impostor = TestTokens.NewRsaKey("rsa-1");

        Assert.Equal(AuthFailure.InvalidCredentials, (await CheckAsync(authenticator, TestTokens.Mint(impostor, "RS256", Now))).Failure);
        Assert.Equal(AuthFailure.InvalidCredentials, (await CheckAsync(authenticator, TestTokens.Mint(_rsa, "RS256", Now, audience: "billing-api"))).Failure);
        Assert.Equal(AuthFailure.InvalidCredentials, (await CheckAsync(authenticator, TestTokens.Mint(_rsa, "RS256", Now, issuer: "https://evil.example/"))).Failure);
    }

    [Fact]
    public async Task AlgNone_IsNeverAccepted()
    {
        using JwtAuthenticator authenticator = Authenticator(["RS256", "ES256", "HS256"], _secret);

        Assert.Equal(AuthFailure.InvalidCredentials, (await CheckAsync(authenticator, TestTokens.Unsigned(Now))).Failure);
    }

    [Fact]
    public async Task AlgorithmOutsideTheAllowList_IsRefused()
    {
        using JwtAuthenticator authenticator = Authenticator(["RS256"]);

        Assert.Equal(AuthFailure.InvalidCredentials, (await CheckAsync(authenticator, TestTokens.Mint(_ec, "ES256", Now))).Failure);
    }

    [Fact]
    public async Task HsRsKeyConfusion_IsRefused()
    {
        // The classic attack: sign with HS256 using the issuer's public RSA key as the HMAC secret.
        using JwtAuthenticator authenticator = Authenticator(["RS256"]);
        byte[] publicKey = _rsa.Rsa.ExportSubjectPublicKeyInfo();
        string forged = TestTokens.Mint(new SymmetricSecurityKey(publicKey), SecurityAlgorithms.HmacSha256, Now);

        Assert.Equal(AuthFailure.InvalidCredentials, (await CheckAsync(authenticator, forged)).Failure);
    }

    [Fact]
    public async Task UnknownKid_RefreshesTheKeySet_SoARotatedKeyIsAccepted()
    {
        using JwtAuthenticator authenticator = Authenticator();
        Assert.Equal(AuthFailure.None, (await CheckAsync(authenticator, TestTokens.Mint(_rsa, "RS256", Now))).Failure);

        // The issuer rotates: a new key is published, the old one withdrawn.
        RsaSecurityKey rotated = TestTokens.NewRsaKey("rsa-2");
        File.WriteAllText(_jwksPath, TestTokens.Jwks(rotated));
        _time.Advance(JwksSource.MinRefreshInterval);

        Assert.Equal(AuthFailure.None, (await CheckAsync(authenticator, TestTokens.Mint(rotated, "RS256", Now))).Failure);
        Assert.Equal(AuthFailure.InvalidCredentials, (await CheckAsync(authenticator, TestTokens.Mint(_rsa, "RS256", Now, subject: "bob"))).Failure);
    }

    [Fact]
    public async Task UnknownKids_RefreshAtMostOncePerInterval()
    {
        using JwtAuthenticator authenticator = Authenticator();
        await CheckAsync(authenticator, TestTokens.Mint(_rsa, "RS256", Now));
        RsaSecurityKey rotated = TestTokens.NewRsaKey("rsa-2");
        File.WriteAllText(_jwksPath, TestTokens.Jwks(rotated));

        // Within the interval the new key is not fetched: a flood of made-up kids cannot hammer the issuer.
        Assert.Equal(AuthFailure.InvalidCredentials, (await CheckAsync(authenticator, TestTokens.Mint(rotated, "RS256", Now))).Failure);
    }

    [Fact]
    public async Task ValidatedToken_IsServedFromTheCache_ButNeverPastItsExpiry()
    {
        using JwtAuthenticator authenticator = Authenticator();
        string token = TestTokens.Mint(_rsa, "RS256", Now, lifetime: TimeSpan.FromMinutes(1));
        await CheckAsync(authenticator, token);

        using (var exchange = TestTokens.Bearer(token))
        {
            ValueTask<AuthResult> cached = authenticator.AuthenticateAsync(exchange);
            Assert.True(cached.IsCompletedSuccessfully);
            Assert.Equal("alice", (await cached).Identity!.ConsumerId);
        }

        _time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        Assert.Equal(AuthFailure.Expired, (await CheckAsync(authenticator, token)).Failure);
    }

    [Fact]
    public async Task NoBearerToken_IsMissing_NotInvalid()
    {
        using JwtAuthenticator authenticator = Authenticator();
        using var exchange = TestTokens.Request("/", ("Authorization", "Basic YTpi"));

        Assert.Equal(AuthFailure.MissingCredentials, (await authenticator.AuthenticateAsync(exchange)).Failure);
    }

    public void Dispose() => File.Delete(_jwksPath);
}
