using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using HyperGate.Forwarding;

namespace HyperGate.RateLimiting;

/// <summary>A compiled <c>[rate_limits.NAME]</c>: how to key a request, the limiter, and its header item.</summary>
public sealed class RateLimitPolicy
{
    /// <summary>Longer keys are replaced by their SHA-256, so a huge header value cannot grow the tables.</summary>
    internal const int MaxKeyLength = 256;

    private const byte Separator = 0x1f;

    private readonly RateLimitKeyPart[] _key;
    private readonly byte[][] _headerNames;

    internal RateLimitPolicy(string name, IReadOnlyList<RateLimitKeyPart> key, long rate, TimeSpan per, bool headers, IRateLimiter limiter)
    {
        Name = name;
        _key = [.. key];
        _headerNames = Array.ConvertAll(_key, part => Encoding.ASCII.GetBytes(part.HeaderName ?? string.Empty));
        Limiter = limiter;
        Headers = headers;
        // An RFC 8941 sf-string: the config only allows printable ASCII names; quote and backslash are escaped.
        string quoted = $"\"{name.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"";
        QuotedName = Encoding.ASCII.GetBytes(quoted);
        PolicyItem = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{quoted};q={rate};w={Math.Max(1, (long)Math.Ceiling(per.TotalSeconds))}"));
    }

    public string Name { get; }

    public bool Headers { get; }

    public RateLimitCounters Counters { get; } = new();

    internal IRateLimiter Limiter { get; }

    /// <summary>The name as a structured-field string: <c>"name"</c>.</summary>
    internal byte[] QuotedName { get; }

    /// <summary>This limit's item in RateLimit-Policy: <c>"name";q=100;w=60</c>.</summary>
    internal byte[] PolicyItem { get; }

    /// <summary>
    /// Writes the request's key for this limit into <paramref name="buffer"/> (at least <see cref="MaxKeyLength"/>
    /// bytes) and returns its length. Each part is tagged with its kind, so a consumer id never shares a bucket
    /// with an address that happens to read the same.
    /// </summary>
    internal int BuildKey(Exchange exchange, TrustedProxies proxies, Span<byte> buffer)
    {
        int length = 0;
        for (int i = 0; i < _key.Length; i++)
        {
            ReadOnlySpan<byte> part = Part(i, exchange, proxies, out byte tag);
            if (length + part.Length + 2 > MaxKeyLength)
            {
                return HashKey(exchange, proxies, buffer);
            }

            buffer[length++] = tag;
            part.CopyTo(buffer[length..]);
            length += part.Length;
            buffer[length++] = Separator;
        }

        return length;
    }

    /// <summary>Rare: a key longer than <see cref="MaxKeyLength"/> (a long header value) is kept as its SHA-256.</summary>
    private int HashKey(Exchange exchange, TrustedProxies proxies, Span<byte> buffer)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int i = 0; i < _key.Length; i++)
        {
            ReadOnlySpan<byte> part = Part(i, exchange, proxies, out byte tag);
            hash.AppendData([tag]);
            hash.AppendData(part);
            hash.AppendData([Separator]);
        }

        buffer[0] = (byte)'#';
        return 1 + hash.GetHashAndReset(buffer[1..]);
    }

    private ReadOnlySpan<byte> Part(int index, Exchange exchange, TrustedProxies proxies, out byte tag)
    {
        switch (_key[index].Kind)
        {
            case RateLimitKeyKind.Route:
                tag = (byte)'r';
                return exchange.Route!.NameBytes;
            case RateLimitKeyKind.Consumer when exchange.Identity is { } identity:
                tag = (byte)'c';
                return identity.ConsumerIdBytes;
            case RateLimitKeyKind.Header when exchange.Request.TryGetHeader(_headerNames[index], out ReadOnlySpan<byte> value):
                tag = (byte)'h';
                return value;
            default:
                tag = (byte)'i';
                return proxies.ClientAddress(exchange);
        }
    }
}
