using HyperGate.Tls;

namespace HyperGate.Security;

/// <summary>A <c>[consumers.NAME]</c>: its credentials, stored hashed, and the identity they prove.</summary>
public sealed class Consumer(string name, IReadOnlyList<byte[]> apiKeyHashes, string? basicUser, string? basicPasswordHash, IReadOnlyDictionary<string, string[]> claims)
{
    public string Name { get; } = name;

    /// <summary>An array, not a list interface: iterating it on the request path must not allocate an enumerator.</summary>
    public byte[][] ApiKeyHashes { get; } = [.. apiKeyHashes];

    public string? BasicUser { get; } = basicUser;

    public string? BasicPasswordHash { get; } = basicPasswordHash;

    public Identity Identity { get; } = new(name, claims, claims.TryGetValue("scope", out string[]? scopes) ? scopes : []);

    /// <summary>The client certificates (mTLS) that prove this consumer.</summary>
    public ClientCertificateMatch[] ClientCertificates { get; init; } = [];
}

/// <summary>Finds consumers by the SHA-256 of an API key, or by a Basic user name.</summary>
public sealed class ConsumerDirectory
{
    private readonly Dictionary<string, Consumer> _byKeyHash = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Consumer> _byBasicUser = new(StringComparer.Ordinal);
    private readonly Consumer[] _withCertificates;

    public ConsumerDirectory(IEnumerable<Consumer> consumers)
    {
        Consumer[] all = [.. consumers];
        _withCertificates = [.. all.Where(c => c.ClientCertificates.Length > 0)];
        foreach (Consumer consumer in all)
        {
            foreach (byte[] hash in consumer.ApiKeyHashes)
            {
                _byKeyHash[Convert.ToHexStringLower(hash)] = consumer;
            }

            if (consumer.BasicUser is not null)
            {
                _byBasicUser[consumer.BasicUser] = consumer;
            }
        }
    }

    public static ConsumerDirectory Empty { get; } = new([]);

    /// <summary>
    /// The consumer whose key hashes to <paramref name="keyHash"/>. The lookup is by the hash of a secret the
    /// client sent, so its timing says nothing about any stored key; the final comparison is constant-time.
    /// </summary>
    public Consumer? FindByKeyHash(ReadOnlySpan<byte> keyHash)
    {
        Span<char> hex = stackalloc char[keyHash.Length * 2];
        Convert.TryToHexStringLower(keyHash, hex, out _);
        if (!_byKeyHash.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(hex, out Consumer? consumer))
        {
            return null;
        }

        foreach (byte[] stored in consumer.ApiKeyHashes)
        {
            if (System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(stored, keyHash))
            {
                return consumer;
            }
        }

        return null;
    }

    /// <summary>The consumer a connection's verified client certificate proves; the first that matches, in config order.</summary>
    public Consumer? FindByCertificate(TlsConnection connection)
    {
        foreach (Consumer consumer in _withCertificates)
        {
            foreach (ClientCertificateMatch match in consumer.ClientCertificates)
            {
                if (match.Matches(connection))
                {
                    return consumer;
                }
            }
        }

        return null;
    }

    public Consumer? FindByBasicUser(ReadOnlySpan<char> user) =>
        _byBasicUser.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(user, out Consumer? consumer) ? consumer : null;
}
