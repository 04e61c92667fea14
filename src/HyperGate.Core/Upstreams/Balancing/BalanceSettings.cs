using System.Text;

namespace HyperGate.Upstreams.Balancing;

/// <summary>An upstream's <c>balance</c>.</summary>
public enum BalanceAlgorithm : byte
{
    /// <summary>Power of two choices: of two random destinations, the one with fewer in-flight requests per unit of latency.</summary>
    P2C,
    RoundRobin,
    LeastRequests,
    ConsistentHash,
    Random,
}

/// <summary>What <c>consistent_hash</c> hashes: <c>header:NAME</c>, <c>cookie:NAME</c>, <c>ip</c> or <c>path</c>.</summary>
public enum HashKeyKind : byte
{
    Header,
    Cookie,
    Ip,
    Path,
}

public sealed record HashKey(HashKeyKind Kind, string Name = "")
{
    /// <summary>The header or cookie name as bytes (a header name lowercased), looked up without allocating.</summary>
    public byte[] NameBytes { get; } = Encoding.ASCII.GetBytes(Kind == HashKeyKind.Header ? Name.ToLowerInvariant() : Name);

    public static HashKey? Parse(string text) => text switch
    {
        "ip" => new HashKey(HashKeyKind.Ip),
        "path" => new HashKey(HashKeyKind.Path),
        _ when text.StartsWith("header:", StringComparison.Ordinal) && IsToken(text[7..]) => new HashKey(HashKeyKind.Header, text[7..]),
        _ when text.StartsWith("cookie:", StringComparison.Ordinal) && IsToken(text[7..]) => new HashKey(HashKeyKind.Cookie, text[7..]),
        _ => null,
    };

    private static bool IsToken(string name) => name.Length > 0 && Http1.HttpCharacters.IsToken(Encoding.ASCII.GetBytes(name));

    public override string ToString() => Kind switch
    {
        HashKeyKind.Header => $"header:{Name}",
        HashKeyKind.Cookie => $"cookie:{Name}",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// <c>balance</c>, and for <c>consistent_hash</c> the key (<c>hash_on</c>) and the bound on any destination's
/// share (<c>hash_load_factor</c>: no destination takes more than that many times the average in-flight load).
/// </summary>
public sealed record BalanceSettings(BalanceAlgorithm Algorithm, HashKey? HashOn = null, double HashLoadFactor = 1.25)
{
    public static BalanceSettings Default { get; } = new(BalanceAlgorithm.P2C);

    private static readonly (string Name, BalanceAlgorithm Algorithm)[] Names =
    [
        ("p2c", BalanceAlgorithm.P2C),
        ("round_robin", BalanceAlgorithm.RoundRobin),
        ("least_requests", BalanceAlgorithm.LeastRequests),
        ("consistent_hash", BalanceAlgorithm.ConsistentHash),
        ("random", BalanceAlgorithm.Random),
    ];

    /// <summary>The algorithm as the config writes it.</summary>
    public string AlgorithmName => Names.First(n => n.Algorithm == Algorithm).Name;

    public static BalanceAlgorithm? ParseAlgorithm(string text) =>
        Names.Any(n => n.Name == text) ? Names.First(n => n.Name == text).Algorithm : null;
}
