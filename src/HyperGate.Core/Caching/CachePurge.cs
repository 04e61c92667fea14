using System.Text;
using HyperGate.Buffers;

namespace HyperGate.Caching;

/// <summary>Purges for the admin API: by exact URL, by prefix (of URLs, or of paths on any host), and by tag.</summary>
public static class CachePurge
{
    /// <summary>Every key a URL may be stored under: as each caching route keys it (a route may sort or filter the query).</summary>
    public static HashSet<byte[]> KeysOf(IEnumerable<RouteCache> routes, Uri url)
    {
        var keys = new HashSet<byte[]>(ByteKeyComparer.Instance) { Encoding.ASCII.GetBytes($"{url.Scheme}://{url.Authority.ToLowerInvariant()}{url.PathAndQuery}") };
        foreach (RouteCache route in routes)
        {
            keys.Add(route.KeyOf(url));
        }

        return keys;
    }

    public static int ByPrefix(CacheStore store, string prefix) => store.RemoveWhere(PrefixMatcher(prefix));

    /// <summary>"/products/" matches that path prefix on every host; "https://shop.test/products/" only there.</summary>
    public static Func<byte[], bool> PrefixMatcher(string prefix)
    {
        if (prefix.StartsWith('/'))
        {
            byte[] path = Encoding.ASCII.GetBytes(prefix);
            return key => PathOf(key).StartsWith(path);
        }

        byte[] url = Encoding.ASCII.GetBytes(LowercaseOrigin(prefix));
        return key => key.AsSpan().StartsWith(url);
    }

    public static int ByTag(CacheStore store, string tag) => store.RemoveWhere(_ => true, response => response.Tags.Contains(tag, StringComparer.Ordinal));

    /// <summary>The path and query of a key ("https://host/p?q" → "/p?q").</summary>
    private static ReadOnlySpan<byte> PathOf(byte[] key)
    {
        ReadOnlySpan<byte> rest = key.AsSpan(key.AsSpan().IndexOf("://"u8) + 3);
        int slash = rest.IndexOf((byte)'/');
        return slash < 0 ? [] : rest[slash..];
    }

    /// <summary>Scheme and host are case-insensitive and keyed in lowercase; the path is not.</summary>
    private static string LowercaseOrigin(string url)
    {
        int schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        int pathStart = schemeEnd < 0 ? -1 : url.IndexOf('/', schemeEnd + 3);
        return pathStart < 0 ? url.ToLowerInvariant() : url[..pathStart].ToLowerInvariant() + url[pathStart..];
    }
}
