using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using HyperGate.Buffers;
using HyperGate.Forwarding;

namespace HyperGate.Security;

/// <summary>
/// HTTP Basic credentials checked against a consumer's PBKDF2 password hash. The hash is slow on purpose, so a
/// verified credential is remembered for <c>cache_ttl</c> (keyed by the SHA-256 of the header value, so no
/// password is kept), and the slow check runs on the thread pool rather than on a socket thread.
/// </summary>
public sealed class BasicAuthenticator : IAuthenticator
{
    private const int MaxCacheEntries = 10_000;
    private readonly ConsumerDirectory _consumers;
    private readonly TimeProvider _time;
    private readonly long _cacheTicks;
    private readonly ConcurrentDictionary<byte[], (Identity Identity, long Until)> _verified = new(ByteKeyComparer.Instance);

    public BasicAuthenticator(string name, ConsumerDirectory consumers, TimeSpan cacheTtl, TimeProvider time)
    {
        Name = name;
        _consumers = consumers;
        _time = time;
        _cacheTicks = (long)(cacheTtl.TotalSeconds * time.TimestampFrequency);
        Challenge = "Basic realm=\"hypergate\"";
    }

    public string Name { get; }

    public string Challenge { get; }

    public ValueTask<AuthResult> AuthenticateAsync(Exchange exchange)
    {
        if (!exchange.Request.TryGetHeader("authorization"u8, out ReadOnlySpan<byte> value) || !value.StartsWith("Basic "u8))
        {
            return ValueTask.FromResult(AuthResult.Missing);
        }

        ReadOnlySpan<byte> encoded = value[6..].Trim((byte)' ');
        Span<byte> cacheKey = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(encoded, cacheKey);
        if (_verified.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(cacheKey, out var cached) && cached.Until > _time.GetTimestamp())
        {
            return ValueTask.FromResult(AuthResult.Success(cached.Identity));
        }

        byte[] decoded = new byte[Base64.GetMaxDecodedFromUtf8Length(encoded.Length)];
        if (Base64.DecodeFromUtf8(encoded, decoded, out _, out int length) != System.Buffers.OperationStatus.Done)
        {
            return ValueTask.FromResult(AuthResult.Invalid);
        }

        return VerifyAsync(decoded.AsMemory(0, length), cacheKey.ToArray());
    }

    private async ValueTask<AuthResult> VerifyAsync(ReadOnlyMemory<byte> credentials, byte[] cacheKey)
    {
        int colon = credentials.Span.IndexOf((byte)':');
        if (colon <= 0)
        {
            return AuthResult.Invalid;
        }

        Consumer? consumer = _consumers.FindByBasicUser(Encoding.UTF8.GetString(credentials.Span[..colon]));
        if (consumer?.BasicPasswordHash is not { } stored)
        {
            return AuthResult.Invalid;
        }

        ReadOnlyMemory<byte> password = credentials[(colon + 1)..];
        bool valid = await Task.Run(() => CredentialHashes.VerifyPassword(stored, password.Span));
        if (!valid)
        {
            return AuthResult.Invalid;
        }

        if (_verified.Count >= MaxCacheEntries)
        {
            _verified.Clear();
        }

        _verified[cacheKey] = (consumer.Identity, _time.GetTimestamp() + _cacheTicks);
        return AuthResult.Success(consumer.Identity);
    }

    public void Dispose()
    {
    }
}
