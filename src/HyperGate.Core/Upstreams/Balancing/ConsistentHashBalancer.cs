using System.IO.Hashing;
using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Upstreams.Balancing;

/// <summary>
/// Consistent hashing with bounded load. Each destination owns points on a 64-bit ring (more points for more
/// weight, placed by hashing its address, so a destination that comes or goes moves only the keys next to its
/// own points). A request goes to the owner of the first point at or after its key's hash, unless that owner
/// already carries more than <c>hash_load_factor</c> times its share of the in-flight requests: then the walk
/// goes on to the next owner with room. Requests without the key are spread at random.
/// </summary>
public sealed class ConsistentHashBalancer : Balancer
{
    private const int PointsPerWeight = 256;
    private const int MaxPoints = 100_000;
    private static readonly byte[] CookieHeader = "cookie"u8.ToArray();

    private readonly HashKey _key;
    private readonly double _loadFactor;
    private readonly Random _random;
    private readonly ulong[] _points;
    private readonly int[] _owners;
    private readonly long _totalWeight;

    public ConsistentHashBalancer(Destination[] destinations, int[] weights, HashKey key, double loadFactor, Random random)
        : base(destinations, weights)
    {
        _key = key;
        _loadFactor = loadFactor;
        _random = random;
        _totalWeight = weights.Sum(w => (long)w);
        int perWeight = (int)Math.Clamp(MaxPoints / _totalWeight, 1, PointsPerWeight);
        var ring = new List<(ulong Point, int Owner)>();
        for (int owner = 0; owner < destinations.Length; owner++)
        {
            for (int i = 0; i < weights[owner] * perWeight; i++)
            {
                ring.Add((XxHash3.HashToUInt64(Encoding.UTF8.GetBytes($"{destinations[owner].Address}#{i}")), owner));
            }
        }

        ring.Sort((a, b) => a.Point.CompareTo(b.Point));
        _points = [.. ring.Select(p => p.Point)];
        _owners = [.. ring.Select(p => p.Owner)];
    }

    public override Destination Pick(Exchange exchange)
    {
        ReadOnlySpan<byte> key = Key(exchange, _key);
        return key.IsEmpty ? Destinations[_random.Next(Destinations.Length)] : Destinations[OwnerOf(XxHash3.HashToUInt64(key))];
    }

    /// <summary>The index of the destination a key hash goes to under the current load.</summary>
    public int OwnerOf(ulong hash)
    {
        long inFlight = 0;
        foreach (Destination destination in Destinations)
        {
            inFlight += destination.InFlight;
        }

        int start = Array.BinarySearch(_points, hash);
        start = start >= 0 ? start : ~start;
        for (int step = 0; step < _points.Length; step++)
        {
            int owner = _owners[(start + step) % _points.Length];

            // With this request, would the owner stay within the load factor times its weighted share?
            double capacity = Math.Ceiling(_loadFactor * (inFlight + 1) * Weights[owner] / _totalWeight);
            if (Destinations[owner].InFlight + 1 <= capacity)
            {
                return owner;
            }
        }

        return _owners[start % _points.Length];
    }

    /// <summary>The bytes a request is hashed on; empty when the request lacks them.</summary>
    public static ReadOnlySpan<byte> Key(Exchange exchange, HashKey key)
    {
        RequestHead request = exchange.Request;
        switch (key.Kind)
        {
            case HashKeyKind.Header:
                return request.TryGetHeader(key.NameBytes, out ReadOnlySpan<byte> value) ? value : default;
            case HashKeyKind.Cookie:
                return request.TryGetHeader(CookieHeader, out ReadOnlySpan<byte> cookies) ? CookieValue(cookies, key.NameBytes) : default;
            case HashKeyKind.Ip:
                return exchange.Snapshot.TrustedProxies.ClientAddress(exchange);
            default:
                return request.NormalizedPath;
        }
    }

    /// <summary>The value of cookie <paramref name="name"/> in a Cookie header (RFC 6265 §5.4: pairs joined by "; ").</summary>
    public static ReadOnlySpan<byte> CookieValue(ReadOnlySpan<byte> cookies, ReadOnlySpan<byte> name)
    {
        foreach (Range range in cookies.Split((byte)';'))
        {
            ReadOnlySpan<byte> pair = HttpCharacters.TrimWhitespace(cookies[range]);
            if (pair.Length > name.Length && pair[name.Length] == (byte)'=' && pair.StartsWith(name))
            {
                return pair[(name.Length + 1)..];
            }
        }

        return default;
    }
}
