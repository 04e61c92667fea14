using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using HyperGate.Buffers;
using HyperGate.Forwarding;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace HyperGate.Security;

/// <summary>The settings of one <c>type = "jwt"</c> authenticator.</summary>
public sealed record JwtSettings(
    string Issuer,
    IReadOnlyList<string> Audiences,
    IReadOnlyList<string> Algorithms,
    TimeSpan ClockSkew,
    string ConsumerClaim,
    byte[]? HmacSecret);

/// <summary>
/// Bearer JWTs, validated by Microsoft.IdentityModel: signature (keys from a JWKS, or an HMAC secret), issuer,
/// audience, expiry and not-before with the configured clock skew, and an algorithm allow-list ("none" is never
/// accepted: a signature is required). A validated token is cached, keyed by its SHA-256 and never past its
/// expiry, so the common request costs one hash and one dictionary hit.
/// </summary>
public sealed class JwtAuthenticator : IAuthenticator
{
    private const int MaxCacheEntries = 10_000;

    private readonly JwtSettings _settings;
    private readonly JwksSource? _jwks;
    private readonly TimeProvider _time;
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly TokenValidationParameters _parameters;
    private readonly ConcurrentDictionary<byte[], (Identity Identity, DateTimeOffset Expires)> _validated = new(ByteKeyComparer.Instance);

    public JwtAuthenticator(string name, JwtSettings settings, JwksSource? jwks, TimeProvider time)
    {
        Name = name;
        _settings = settings;
        _jwks = jwks;
        _time = time;
        SecurityKey? hmacKey = settings.HmacSecret is null ? null : new SymmetricSecurityKey(settings.HmacSecret);
        _parameters = new TokenValidationParameters
        {
            ValidIssuer = settings.Issuer,
            ValidAudiences = settings.Audiences,
            ValidAlgorithms = settings.Algorithms,
            ClockSkew = settings.ClockSkew,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateIssuerSigningKey = true,
            LifetimeValidator = ValidateLifetime,
            IssuerSigningKeyResolver = (_, _, kid, _) => ResolveKeys(kid, hmacKey),
        };
        Challenge = "Bearer realm=\"hypergate\"";
    }

    public string Name { get; }

    public string Challenge { get; }

    public ValueTask<AuthResult> AuthenticateAsync(Exchange exchange)
    {
        if (!exchange.Request.TryGetHeader("authorization"u8, out ReadOnlySpan<byte> value) || !value.StartsWith("Bearer "u8))
        {
            return ValueTask.FromResult(AuthResult.Missing);
        }

        ReadOnlySpan<byte> token = value[7..].Trim((byte)' ');
        Span<byte> cacheKey = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(token, cacheKey);
        if (_validated.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(cacheKey, out var cached))
        {
            if (cached.Expires > _time.GetUtcNow())
            {
                return ValueTask.FromResult(AuthResult.Success(cached.Identity));
            }

            _validated.GetAlternateLookup<ReadOnlySpan<byte>>().TryRemove(cacheKey, out _, out _);
            return ValueTask.FromResult(new AuthResult(null, AuthFailure.Expired));
        }

        return ValidateAsync(Encoding.ASCII.GetString(token), cacheKey.ToArray());
    }

    private async ValueTask<AuthResult> ValidateAsync(string token, byte[] cacheKey)
    {
        if (_jwks is { Keys.Count: 0 })
        {
            await _jwks.RefreshAsync(onDemand: true);
        }

        TokenValidationResult result = await _handler.ValidateTokenAsync(token, _parameters);
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException && _jwks is not null)
        {
            // A key id we have not seen: the issuer may have rotated its keys. One refresh, rate-limited, then retry.
            await _jwks.RefreshAsync(onDemand: true);
            result = await _handler.ValidateTokenAsync(token, _parameters);
        }

        if (!result.IsValid)
        {
            return new AuthResult(null, result.Exception is SecurityTokenExpiredException or SecurityTokenNotYetValidException ? AuthFailure.Expired : AuthFailure.InvalidCredentials);
        }

        var jwt = (JsonWebToken)result.SecurityToken;
        if (!jwt.TryGetPayloadValue(_settings.ConsumerClaim, out object? consumer) || consumer?.ToString() is not { Length: > 0 } consumerId)
        {
            return AuthResult.Invalid;
        }

        var identity = new Identity(consumerId, ClaimsOf(jwt), ScopesOf(jwt));
        if (_validated.Count >= MaxCacheEntries)
        {
            _validated.Clear();
        }

        _validated[cacheKey] = (identity, new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero));
        return AuthResult.Success(identity);
    }

    private IEnumerable<SecurityKey> ResolveKeys(string? kid, SecurityKey? hmacKey)
    {
        if (hmacKey is not null)
        {
            yield return hmacKey;
        }

        if (_jwks is null)
        {
            yield break;
        }

        foreach (SecurityKey key in _jwks.Keys)
        {
            if (kid is null || key.KeyId == kid)
            {
                yield return key;
            }
        }
    }

    /// <summary>Expiry and not-before against the gateway's clock (a <see cref="TimeProvider"/>, so tests can move it).</summary>
    private bool ValidateLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters)
    {
        DateTime now = _time.GetUtcNow().UtcDateTime;
        if (expires is null || expires.Value.Add(parameters.ClockSkew) < now)
        {
            throw new SecurityTokenExpiredException("expired");
        }

        if (notBefore is { } nbf && nbf.Subtract(parameters.ClockSkew) > now)
        {
            throw new SecurityTokenNotYetValidException("not yet valid");
        }

        return true;
    }

    private static Dictionary<string, string[]> ClaimsOf(JsonWebToken jwt)
    {
        var claims = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var group in jwt.Claims.GroupBy(c => c.Type))
        {
            claims[group.Key] = [.. group.Select(c => c.Value)];
        }

        return claims;
    }

    /// <summary>OAuth scopes: "scope" as a space-separated string (RFC 8693) or "scp" as a list.</summary>
    private static string[] ScopesOf(JsonWebToken jwt)
    {
        var scopes = new List<string>();
        foreach (var claim in jwt.Claims.Where(c => c.Type is "scope" or "scp"))
        {
            scopes.AddRange(claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        }

        return [.. scopes];
    }

    public void Dispose() => _jwks?.Dispose();
}
