using System.Text;
using HyperGate.Security;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.Security;

public class CredentialTests
{
    private static readonly string PasswordHash = CredentialHashes.HashPassword("correct horse", iterations: 10_000);

    private static ConsumerDirectory Directory() => new([
        new Consumer("mobile-app", [CredentialHashes.ParseKeyHash(CredentialHashes.HashKey("key-123"))!], null, null, new Dictionary<string, string[]> { ["tier"] = ["gold"] }),
        new Consumer("ci", [], "ci", PasswordHash, new Dictionary<string, string[]>()),
    ]);

    [Fact]
    public void HashKey_IsSha256InLowercaseHex()
    {
        Assert.Equal("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", CredentialHashes.HashKey("abc"));
        Assert.NotNull(CredentialHashes.ParseKeyHash(CredentialHashes.HashKey("abc")));
        Assert.Null(CredentialHashes.ParseKeyHash("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
        Assert.Null(CredentialHashes.ParseKeyHash("abc"));
    }

    [Fact]
    public void PasswordHash_VerifiesOnlyTheRightPassword()
    {
        Assert.True(CredentialHashes.VerifyPassword(PasswordHash, "correct horse"u8));
        Assert.False(CredentialHashes.VerifyPassword(PasswordHash, "correct horsf"u8));
        Assert.False(CredentialHashes.VerifyPassword("pbkdf2-sha256$10$AAAA$AAAA", "x"u8));
        Assert.NotEqual(PasswordHash, CredentialHashes.HashPassword("correct horse", iterations: 10_000));
    }

    [Fact]
    public void Secrets_ComeFromTheEnvironment()
    {
        Assert.Equal("plain", Secrets.Resolve("plain"));
        Assert.Equal("s3cret", Secrets.Resolve("${ENV:JWT_SECRET}", name => name == "JWT_SECRET" ? "s3cret" : null));
        Assert.Null(Secrets.Resolve("${ENV:MISSING}", _ => null));
    }

    [Theory]
    [InlineData("key-123", AuthFailure.None)]
    [InlineData("key-124", AuthFailure.InvalidCredentials)]
    public async Task ApiKeyInAHeader(string key, AuthFailure expected)
    {
        var authenticator = new ApiKeyAuthenticator("keys", "x-api-key", null, Directory());
        using var exchange = TestTokens.Request("/", ("X-Api-Key", key));

        AuthResult result = await authenticator.AuthenticateAsync(exchange);

        Assert.Equal(expected, result.Failure);
        Assert.Equal(expected == AuthFailure.None ? "mobile-app" : null, result.Identity?.ConsumerId);
    }

    [Fact]
    public async Task ApiKeyInTheQuery_AndMissingKeys()
    {
        var authenticator = new ApiKeyAuthenticator("keys", null, "api_key", Directory());
        using var good = TestTokens.Request("/orders?x=1&api_key=key-123");
        using var none = TestTokens.Request("/orders?x=1");

        Assert.Equal("mobile-app", (await authenticator.AuthenticateAsync(good)).Identity?.ConsumerId);
        Assert.Equal(AuthFailure.MissingCredentials, (await authenticator.AuthenticateAsync(none)).Failure);
    }

    [Fact]
    public async Task Basic_VerifiesThePassword_ThenServesTheCacheUntilItsTtl()
    {
        var time = new FakeTimeProvider();
        var authenticator = new BasicAuthenticator("basic", Directory(), TimeSpan.FromMinutes(1), time);
        string good = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ci:correct horse"));
        string bad = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ci:wrong"));

        using (var exchange = TestTokens.Request("/", ("Authorization", bad)))
        {
            Assert.Equal(AuthFailure.InvalidCredentials, (await authenticator.AuthenticateAsync(exchange)).Failure);
        }

        using (var exchange = TestTokens.Request("/", ("Authorization", good)))
        {
            Assert.Equal("ci", (await authenticator.AuthenticateAsync(exchange)).Identity?.ConsumerId);
        }

        using (var exchange = TestTokens.Request("/", ("Authorization", good)))
        {
            Assert.True(authenticator.AuthenticateAsync(exchange).IsCompletedSuccessfully);
        }

        time.Advance(TimeSpan.FromMinutes(2));
        using (var exchange = TestTokens.Request("/", ("Authorization", good)))
        {
            ValueTask<AuthResult> again = authenticator.AuthenticateAsync(exchange);
            Assert.Equal("ci", (await again).Identity?.ConsumerId);
        }
    }

    [Fact]
    public void Requirement_NeedsEveryScopeAndOneAllowedValuePerClaim()
    {
        var requirement = new AccessRequirement(["orders:read"], [new("tier", ["gold", "silver"])]);
        Identity Make(string[] scopes, string tier) => new("c", new Dictionary<string, string[]> { ["tier"] = [tier] }, scopes);

        Assert.True(requirement.IsMetBy(Make(["orders:read", "x"], "silver")));
        Assert.False(requirement.IsMetBy(Make(["orders:write"], "gold")));
        Assert.False(requirement.IsMetBy(Make(["orders:read"], "bronze")));
        Assert.True(AccessRequirement.None.IsMetBy(Make([], "none")));
    }
}
