using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Security;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace HyperGate.Benchmarks.Security;

/// <summary>
/// The per-request cost of authentication in steady state: a JWT already validated once (served from the
/// token cache) and an API key (hashed and looked up), each against a parsed request head.
/// </summary>
[MemoryDiagnoser]
public class AuthBenchmarks
{
    private JwtAuthenticator _jwt = null!;
    private ApiKeyAuthenticator _apiKey = null!;
    private Exchange _bearerRequest = null!;
    private Exchange _keyRequest = null!;

    [GlobalSetup]
    public void Setup()
    {
        var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "bench" };
        string jwksPath = Path.GetTempFileName();
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(key);
        File.WriteAllText(jwksPath, $$"""{"keys":[{"kty":"RSA","kid":"bench","use":"sig","n":"{{jwk.N}}","e":"{{jwk.E}}"}]}""");
        var source = JwksSource.FromFile(jwksPath, TimeSpan.FromHours(1), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        _jwt = new JwtAuthenticator("jwt", new JwtSettings("https://id.example.com/", ["orders-api"], ["RS256"], TimeSpan.FromSeconds(30), "sub", null), source, TimeProvider.System);
        string token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "https://id.example.com/",
            Audience = "orders-api",
            Expires = DateTime.UtcNow.AddHours(1),
            Claims = new Dictionary<string, object> { ["sub"] = "alice", ["scope"] = "orders:read orders:write" },
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
        _bearerRequest = Request($"Authorization: Bearer {token}");
        if (_jwt.AuthenticateAsync(_bearerRequest).AsTask().GetAwaiter().GetResult().Identity is null)
        {
            throw new InvalidOperationException("the benchmark token does not validate");
        }

        var consumers = new ConsumerDirectory([new Consumer("mobile-app", [CredentialHashes.ParseKeyHash(CredentialHashes.HashKey("k-7f3a9c2e41d8"))!], null, null, new Dictionary<string, string[]>())]);
        _apiKey = new ApiKeyAuthenticator("keys", "x-api-key", null, consumers);
        _keyRequest = Request("X-Api-Key: k-7f3a9c2e41d8");
    }

    private static Exchange Request(string field)
    {
        var exchange = new Exchange(new Pipe().Reader, new Pipe().Writer, IPAddress.Loopback, isHttps: false);
        byte[] head = Encoding.ASCII.GetBytes($"GET /orders/7 HTTP/1.1\r\nHost: api.example.com\r\nAccept: application/json\r\n{field}\r\n\r\n");
        RequestHeadParser.TryParse(new ReadOnlySequence<byte>(head), exchange.Request, HeadLimits.Default, out _, out _, out _);
        return exchange;
    }

    [GlobalCleanup]
    public void Cleanup() => _jwt.Dispose();

    [Benchmark, HotPath]
    public Identity? CachedJwt() => _jwt.AuthenticateAsync(_bearerRequest).Result.Identity;

    [Benchmark, HotPath]
    public Identity? ApiKey() => _apiKey.AuthenticateAsync(_keyRequest).Result.Identity;
}
