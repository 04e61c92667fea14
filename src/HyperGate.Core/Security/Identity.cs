using System.Text;

namespace HyperGate.Security;

/// <summary>
/// Who a request comes from, once authenticated: the consumer id (a consumer's name, or a JWT's consumer
/// claim), the scopes, and the claims. Immutable and shared: a consumer's identity is built once, a token's
/// once per validation, so an authenticated request allocates nothing.
/// </summary>
public sealed class Identity
{
    public Identity(string consumerId, IReadOnlyDictionary<string, string[]> claims, string[] scopes)
    {
        ConsumerId = consumerId;
        ConsumerIdBytes = Encoding.UTF8.GetBytes(consumerId);
        Claims = claims;
        Scopes = new HashSet<string>(scopes, StringComparer.Ordinal);
    }

    public string ConsumerId { get; }

    public byte[] ConsumerIdBytes { get; }

    public IReadOnlyDictionary<string, string[]> Claims { get; }

    public IReadOnlySet<string> Scopes { get; }

    /// <summary>The identity header fields sent upstream, encoded on first use and then reused.</summary>
    internal byte[]? EncodedHeaders { get; set; }

    /// <summary>The header set <see cref="EncodedHeaders"/> was encoded for (a reload may change it).</summary>
    internal IdentityHeaders? EncodedFor { get; set; }
}
