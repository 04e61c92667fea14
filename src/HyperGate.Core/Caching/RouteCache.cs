using System.Text;
using HyperGate.Caching.Fleet;
using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Caching;

/// <summary>
/// A route's <c>cache = true | { ... }</c>, compiled: how it keys responses and what it lets the store keep.
/// The key is the URL: scheme, host, the normalized path (the spelling routing matched, so two spellings of one
/// path share an entry) and the query (as received, or sorted, without ignored parameters). Extra key parts
/// (named request fields, the consumer) select among the URL's variants like Vary does.
/// </summary>
public sealed class RouteCache
{
    /// <summary>Longest key built on the stack; longer ones (rare) are built in a rented array.</summary>
    public const int StackKeyLength = 1024;

    private const int MaxSortedParameters = 64;

    public RouteCache(string route, CacheStore store, FleetTier? fleet, TimeProvider time, RouteCacheSettings settings)
    {
        Store = store;
        Fleet = fleet;
        Counters = store.CountersFor(route);
        Time = time;
        Settings = settings;
        IgnoredQuery = [.. settings.IgnoreQuery.Select(Encoding.ASCII.GetBytes)];
        KeyHeaders = [.. settings.KeyHeaders.Select(Encoding.ASCII.GetBytes)];
    }

    public CacheStore Store { get; }

    /// <summary>The shared second tier, when <c>[cache] redis</c> names one.</summary>
    public FleetTier? Fleet { get; }

    public TimeProvider Time { get; }

    public RouteCacheCounters Counters { get; }

    public RouteCacheSettings Settings { get; }

    public byte[][] IgnoredQuery { get; }

    /// <summary>Request fields that are part of the key (as if every response varied on them).</summary>
    public byte[][] KeyHeaders { get; }

    public long Now => Time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>Stores a response this instance fetched, here and in the fleet tier.</summary>
    public void Keep(byte[] key, CachedResponse response)
    {
        Store.Store(key, response);
        Fleet?.Put(key, response, Now, Settings.StaleIfError);
    }

    /// <summary>§4.4: removes what is stored under the keys, here and on every instance of the fleet.</summary>
    public void Forget(IReadOnlyCollection<byte[]> keys)
    {
        foreach (byte[] key in keys)
        {
            Store.Remove(key);
        }

        _ = Fleet?.RemoveAsync(keys);
    }

    /// <summary>For <c>explain</c>: how the route keys and keeps responses.</summary>
    public string Describe()
    {
        var parts = new List<string> { "GET and HEAD answered from the store when RFC 9111 allows; keyed by scheme, host, normalized path and " + (Settings.SortQuery ? "sorted query" : "query") };
        if (Settings.IgnoreQuery.Count > 0)
        {
            parts.Add($"ignoring query parameters {string.Join(", ", Settings.IgnoreQuery)}");
        }

        if (Settings.KeyHeaders.Count > 0)
        {
            parts.Add($"varying on {string.Join(", ", Settings.KeyHeaders)}");
        }

        parts.Add(Settings.DefaultTtl is { } ttl ? $"heuristic freshness {ttl.TotalSeconds:0}s" : "heuristic freshness 10% of the time since Last-Modified");
        if (Settings.StaleIfError > TimeSpan.Zero)
        {
            parts.Add($"stale responses for up to {Settings.StaleIfError.TotalSeconds:0}s when the upstream fails");
        }

        if (Settings.KeyConsumer)
        {
            parts.Add("a stored response serves only the consumer it was fetched for");
        }

        if (Fleet is not null)
        {
            parts.Add($"shared with the fleet through Redis (objects up to {Fleet.Config.MaxObjectSize} bytes, lookups wait at most {Fleet.Config.Timeout.TotalMilliseconds:0}ms)");
        }

        if (Settings.StoreSetCookie)
        {
            parts.Add("responses with Set-Cookie stored");
        }

        return string.Join("; ", parts);
    }

    /// <summary>The most bytes <see cref="WriteKey"/> may write for this request.</summary>
    public static int MaxKeyLength(RequestHead request) => 8 + request.Host.Length + request.NormalizedPath.Length + request.Query.Length;

    /// <summary>Writes the request's key; returns its length.</summary>
    public int WriteKey(RequestHead request, bool https, Span<byte> key)
    {
        int length = 0;
        Append(key, ref length, https ? "https://"u8 : "http://"u8);
        int hostStart = length;
        Append(key, ref length, request.Host);
        Ascii.ToLowerInPlace(key[hostStart..length], out _);
        Append(key, ref length, request.NormalizedPath);
        return length + WriteQuery(request.Query, key[length..]);
    }

    /// <summary>The key of a URL (for invalidation by Location and for purges); the same shape as <see cref="WriteKey"/>.</summary>
    public byte[] KeyOf(Uri url)
    {
        byte[] head = Encoding.ASCII.GetBytes($"{url.Scheme}://{url.Authority.ToLowerInvariant()}{url.AbsolutePath}");
        byte[] query = Encoding.ASCII.GetBytes(url.Query);
        var key = new byte[head.Length + query.Length];
        head.CopyTo(key, 0);
        int written = WriteQuery(query, key.AsSpan(head.Length));
        return key[..(head.Length + written)];
    }

    private int WriteQuery(ReadOnlySpan<byte> query, Span<byte> destination)
    {
        if (query.Length <= 1 || (!Settings.SortQuery && IgnoredQuery.Length == 0))
        {
            query.CopyTo(destination);
            return query.Length;
        }

        // "?b=2&a=1&utm_source=x" → "?a=1&b=2" with sort_query and ignore_query = ["utm_source"].
        ReadOnlySpan<byte> parameters = query[1..];
        Span<Range> ranges = stackalloc Range[MaxSortedParameters];
        int count = 0;
        foreach (Range range in parameters.Split((byte)'&'))
        {
            ReadOnlySpan<byte> parameter = parameters[range];
            if (parameter.IsEmpty || IsIgnored(parameter))
            {
                continue;
            }

            if (count == MaxSortedParameters)
            {
                // Too many to sort on the stack: the query is kept as received (still a correct, if narrower, key).
                query.CopyTo(destination);
                return query.Length;
            }

            ranges[count++] = range;
        }

        if (Settings.SortQuery)
        {
            for (int i = 1; i < count; i++)
            {
                for (int j = i; j > 0 && parameters[ranges[j - 1]].SequenceCompareTo(parameters[ranges[j]]) > 0; j--)
                {
                    (ranges[j - 1], ranges[j]) = (ranges[j], ranges[j - 1]);
                }
            }
        }

        int length = 0;
        for (int i = 0; i < count; i++)
        {
            destination[length++] = i == 0 ? (byte)'?' : (byte)'&';
            parameters[ranges[i]].CopyTo(destination[length..]);
            length += parameters[ranges[i]].Length;
        }

        return length;
    }

    private bool IsIgnored(ReadOnlySpan<byte> parameter)
    {
        int equals = parameter.IndexOf((byte)'=');
        ReadOnlySpan<byte> name = equals < 0 ? parameter : parameter[..equals];
        foreach (byte[] ignored in IgnoredQuery)
        {
            if (name.SequenceEqual(ignored))
            {
                return true;
            }
        }

        return false;
    }

    private static void Append(Span<byte> key, ref int length, ReadOnlySpan<byte> part)
    {
        part.CopyTo(key[length..]);
        length += part.Length;
    }

    /// <summary>
    /// The stored response that may answer this request (§4.1): its Vary fields and the route's key fields hold the
    /// values this request has, and it was not stored for another consumer. Allocates nothing.
    /// </summary>
    public static CachedResponse? Select(CacheObject entry, RequestHead request, Exchange exchange)
    {
        foreach (CachedResponse candidate in entry.Variants)
        {
            if (Selects(candidate, request, exchange))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Whether a stored response may answer this request: its consumer's, or anyone's, and the request's Vary values (§4.1).</summary>
    public static bool Selects(CachedResponse candidate, RequestHead request, Exchange exchange) =>
        (candidate.Consumer is null || candidate.Consumer == exchange.Identity?.ConsumerId) && VaryMatches(candidate, request);

    private static bool VaryMatches(CachedResponse candidate, RequestHead request)
    {
        Span<byte> normalized = stackalloc byte[512];
        foreach ((byte[] name, byte[]? value) in candidate.Vary)
        {
            int length = NormalizedValue(request, name, normalized);
            if (length == -2)
            {
                return false;
            }

            if (value is null ? length != -1 : length < 0 || !normalized[..length].SequenceEqual(value))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// §4.1: the request's value of a field, normalized so that equivalent spellings compare equal: every field line
    /// combined, each list element trimmed, joined by ", ". -1 when absent; -2 when too long to compare (no match).
    /// </summary>
    public static int NormalizedValue(RequestHead request, ReadOnlySpan<byte> name, Span<byte> destination)
    {
        int length = -1;
        foreach (ref readonly HeaderField field in request.Headers)
        {
            if (!Ascii.EqualsIgnoreCase(request.NameOf(field), name))
            {
                continue;
            }

            length = Math.Max(length, 0);
            ReadOnlySpan<byte> value = request.ValueOf(field);
            foreach (Range part in value.Split((byte)','))
            {
                ReadOnlySpan<byte> element = HttpCharacters.TrimWhitespace(value[part]);
                if (element.IsEmpty)
                {
                    continue;
                }

                if (length + element.Length + 2 > destination.Length)
                {
                    return -2;
                }

                if (length > 0)
                {
                    destination[length++] = (byte)',';
                    destination[length++] = (byte)' ';
                }

                element.CopyTo(destination[length..]);
                length += element.Length;
            }
        }

        return length;
    }
}

/// <summary>A route's cache settings as configured.</summary>
public sealed record RouteCacheSettings(
    TimeSpan? DefaultTtl,
    bool SortQuery,
    IReadOnlyList<string> IgnoreQuery,
    IReadOnlyList<string> KeyHeaders,
    bool StoreSetCookie,
    TimeSpan StaleIfError,
    bool KeyConsumer = false)
{
    public static RouteCacheSettings Default { get; } = new(null, false, [], [], false, TimeSpan.Zero);
}
