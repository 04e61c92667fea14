using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using HyperGate.Forwarding;
using HyperGate.Http1;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace HyperGate.Tests.Security;

/// <summary>Keys, JWKS documents, tokens and parsed requests for the authentication tests.</summary>
internal static class TestTokens
{
    public const string Issuer = "https://id.example.com/";
    public const string Audience = "orders-api";

    public static RsaSecurityKey NewRsaKey(string kid) => new(RSA.Create(2048)) { KeyId = kid };

    public static ECDsaSecurityKey NewEcKey(string kid) => new(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = kid };

    /// <summary>A JWKS with the public halves of the keys.</summary>
    public static string Jwks(params SecurityKey[] keys) => JsonSerializer.Serialize(new
    {
        keys = keys.Select(key => key switch
        {
            RsaSecurityKey rsa => (object)Public(JsonWebKeyConverter.ConvertFromRSASecurityKey(rsa)),
            ECDsaSecurityKey ec => Public(JsonWebKeyConverter.ConvertFromECDsaSecurityKey(ec)),
            _ => throw new ArgumentException("unsupported key"),
        }),
    });

    private static Dictionary<string, string> Public(JsonWebKey key)
    {
        var fields = new Dictionary<string, string> { ["kty"] = key.Kty, ["kid"] = key.Kid, ["use"] = "sig" };
        foreach ((string name, string? value) in new[] { ("n", key.N), ("e", key.E), ("crv", key.Crv), ("x", key.X), ("y", key.Y) })
        {
            if (value is not null)
            {
                fields[name] = value;
            }
        }

        return fields;
    }

    public static string Mint(
        SecurityKey key, string algorithm, DateTime now, string subject = "alice", string issuer = Issuer, string audience = Audience,
        TimeSpan? lifetime = null, Dictionary<string, object>? claims = null, DateTime? notBefore = null)
    {
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = now,
            NotBefore = notBefore ?? now,
            Expires = now + (lifetime ?? TimeSpan.FromMinutes(5)),
            Claims = new Dictionary<string, object>(claims ?? []) { ["sub"] = subject },
            SigningCredentials = new SigningCredentials(key, algorithm),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }

    /// <summary>An unsigned token ("alg": "none"), as an attacker would send it.</summary>
    public static string Unsigned(DateTime now)
    {
        static string Part(object value) => Base64UrlEncoder.Encode(JsonSerializer.SerializeToUtf8Bytes(value));
        long exp = new DateTimeOffset(now.AddMinutes(5)).ToUnixTimeSeconds();
        return $"{Part(new { alg = "none", typ = "JWT" })}.{Part(new { sub = "mallory", iss = Issuer, aud = Audience, exp })}.";
    }

    /// <summary>An exchange whose request head carries the given header fields.</summary>
    public static Exchange Request(string target = "/", params (string Name, string Value)[] headers)
    {
        string head = $"GET {target} HTTP/1.1\r\nHost: api.example.com\r\n" + string.Concat(headers.Select(h => $"{h.Name}: {h.Value}\r\n")) + "\r\n";
        var exchange = new Exchange(new Pipe().Reader, new Pipe().Writer, IPAddress.Loopback, isHttps: false);
        RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(head)), exchange.Request, HeadLimits.Default, out _, out _, out _);
        return exchange;
    }

    public static Exchange Bearer(string token) => Request("/", ("Authorization", $"Bearer {token}"));
}
