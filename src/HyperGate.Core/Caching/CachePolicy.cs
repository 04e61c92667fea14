using System.Text;
using HyperGate.Http1;

namespace HyperGate.Caching;

/// <summary>Why a response was not stored (for Cache-Status' detail and the metrics).</summary>
public enum StoreRefusal : byte
{
    None,
    Method,
    Status,
    NoStore,
    Private,
    Authorization,
    NoFreshness,
    VaryAny,
    SetCookie,
    Partial,
    TooLarge,
}

/// <summary>The rules of a shared cache (RFC 9111), as pure functions of the messages and the clock.</summary>
public static class CachePolicy
{
    /// <summary>RFC 9110 §15.1: the status codes that are heuristically cacheable.</summary>
    public static bool IsHeuristicallyCacheable(int status) => status is 200 or 203 or 204 or 206 or 300 or 301 or 308 or 404 or 405 or 410 or 414 or 501;

    /// <summary>
    /// The final statuses this cache understands well enough to store (§3 "the response status code is final and
    /// understood"): the heuristically cacheable ones but 206 (partial content is never stored), and the redirects
    /// and refusals whose meaning does not depend on the request beyond its URI.
    /// </summary>
    public static bool IsUnderstood(int status) => status is 200 or 203 or 204 or 300 or 301 or 302 or 307 or 308 or 404 or 405 or 410 or 414 or 451 or 501;

    /// <summary>RFC 9111 §3: whether a shared cache may store this response to this request.</summary>
    public static StoreRefusal MayStore(RequestHead request, in CacheDirectives requestDirectives, ResponseHead response, in CacheDirectives directives, bool storeSetCookie)
    {
        if (request.Method != HttpMethod.Get)
        {
            return StoreRefusal.Method;
        }

        int status = response.StatusCode;
        if (status == 206 || response.TryGetHeader("content-range"u8, out _) || request.TryGetHeader("range"u8, out _))
        {
            return StoreRefusal.Partial;
        }

        if (!IsUnderstood(status))
        {
            return StoreRefusal.Status;
        }

        // §5.2.2.3: must-understand overrides no-store for a status the cache understands (checked above).
        if ((directives.NoStore && !directives.MustUnderstand) || requestDirectives.NoStore)
        {
            return StoreRefusal.NoStore;
        }

        if (directives.Private)
        {
            return StoreRefusal.Private;
        }

        // §3.5: a response to an authenticated request is shared only when the origin says so.
        if (request.TryGetHeader("authorization"u8, out _) && !(directives.Public || directives.MustRevalidate || directives.SharedMaxAge >= 0))
        {
            return StoreRefusal.Authorization;
        }

        if (HasVaryAny(response))
        {
            return StoreRefusal.VaryAny;
        }

        if (!storeSetCookie && response.TryGetHeader("set-cookie"u8, out _))
        {
            return StoreRefusal.SetCookie;
        }

        bool explicitFreshness = directives.MaxAge >= 0 || directives.SharedMaxAge >= 0 || response.TryGetHeader("expires"u8, out _);
        if (!explicitFreshness && !directives.Public && !IsHeuristicallyCacheable(status))
        {
            return StoreRefusal.NoFreshness;
        }

        return StoreRefusal.None;
    }

    private static bool HasVaryAny(ResponseHead response)
    {
        foreach (ref readonly HeaderField field in response.Headers)
        {
            if (Ascii.EqualsIgnoreCase(response.NameOf(field), "vary"u8))
            {
                ReadOnlySpan<byte> value = response.ValueOf(field);
                foreach (Range part in value.Split((byte)','))
                {
                    if (HttpCharacters.TrimWhitespace(value[part]).SequenceEqual("*"u8))
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    /// <summary>
    /// §4.2.1 for a shared cache: s-maxage, else max-age, else Expires minus Date (the response time when Date is
    /// absent), else a heuristic (§4.2.2) where allowed: the route's default TTL when set, otherwise 10% of the
    /// time since Last-Modified, at most a day. Invalid freshness information makes the response stale (0).
    /// </summary>
    public static long FreshnessLifetime(in CacheDirectives directives, ReadOnlySpan<byte> fields, int status, long responseTime, TimeSpan? defaultTtl)
    {
        if (directives.InvalidFreshness)
        {
            return 0;
        }

        if (directives.SharedMaxAge >= 0)
        {
            return directives.SharedMaxAge;
        }

        if (directives.MaxAge >= 0)
        {
            return directives.MaxAge;
        }

        long date = DateOf(fields, responseTime);
        int expiresCount = 0;
        ReadOnlySpan<byte> expires = default;
        ReadOnlySpan<byte> lastModified = default;
        foreach (FieldLine field in new FieldLines(fields))
        {
            if (Ascii.EqualsIgnoreCase(field.Name, "expires"u8))
            {
                expires = expiresCount++ == 0 ? field.Value : expires;
            }
            else if (Ascii.EqualsIgnoreCase(field.Name, "last-modified"u8) && lastModified.IsEmpty)
            {
                lastModified = field.Value;
            }
        }

        if (expiresCount > 0)
        {
            // §5.3: an invalid date (notably "0") is in the past; two Expires fields are treated as stale (§4.2.1).
            return expiresCount == 1 && HttpDate.TryParse(expires, out DateTimeOffset at) ? Math.Max(0, at.ToUnixTimeSeconds() - date) : 0;
        }

        if (!directives.Public && !IsHeuristicallyCacheable(status))
        {
            return 0;
        }

        if (defaultTtl is { } ttl)
        {
            return (long)ttl.TotalSeconds;
        }

        if (!lastModified.IsEmpty && HttpDate.TryParse(lastModified, out DateTimeOffset modified))
        {
            return Math.Clamp((date - modified.ToUnixTimeSeconds()) / 10, 0, 86_400);
        }

        return 0;
    }

    /// <summary>The Date value (RFC 9110 §6.6.1) in Unix seconds, or <paramref name="fallback"/> when absent or invalid.</summary>
    public static long DateOf(ReadOnlySpan<byte> fields, long fallback)
    {
        foreach (FieldLine field in new FieldLines(fields))
        {
            if (Ascii.EqualsIgnoreCase(field.Name, "date"u8))
            {
                return HttpDate.TryParse(field.Value, out DateTimeOffset parsed) ? parsed.ToUnixTimeSeconds() : fallback;
            }
        }

        return fallback;
    }

    /// <summary>
    /// §4.2.4, §5.2.2.2, §5.2.2.8, §5.2.2.10: whether a stale response may be served without validation at all:
    /// never after must-revalidate, proxy-revalidate or s-maxage (all binding on a shared cache).
    /// </summary>
    public static bool MayServeStale(in CacheDirectives directives) => !directives.MustRevalidate && !directives.ProxyRevalidate && directives.SharedMaxAge < 0;

    /// <summary>What to do with a stored response for a request (§4, §4.2, §5.2.1).</summary>
    public static Reuse Decide(CachedResponse stored, in CacheDirectives request, bool pragmaNoCache, long now)
    {
        CacheDirectives response = stored.Directives;
        long age = stored.Times.CurrentAge(now);
        long lifetime = stored.Times.FreshnessLifetime;
        if (request.NoCache || (pragmaNoCache && !request.Present) || response.NoCache)
        {
            // §5.2.1.4, §5.2.2.4, and RFC 9111 §5.4 (Pragma: no-cache when Cache-Control is absent, as caches have long done).
            return Reuse.Validate;
        }

        if (request.MaxAge >= 0 && age > request.MaxAge)
        {
            return Reuse.Validate;
        }

        bool fresh = lifetime > age;
        if (fresh)
        {
            // §5.2.1.3: min-fresh asks for at least that much freshness left.
            return request.MinFresh >= 0 && lifetime - age < request.MinFresh ? Reuse.Validate : Reuse.Fresh;
        }

        // §5.2.1.2: max-stale accepts a stale response, unless the origin forbade serving it stale.
        if (MayServeStale(response) && (request.MaxStaleAny || (request.MaxStale >= 0 && age - lifetime <= request.MaxStale)))
        {
            return Reuse.AllowedStale;
        }

        // RFC 5861 §3: within stale-while-revalidate, the stale response answers while it is refreshed behind it.
        if (MayServeStale(response) && response.StaleWhileRevalidate >= 0 && age - lifetime <= response.StaleWhileRevalidate)
        {
            return Reuse.StaleWhileRevalidate;
        }

        return Reuse.Validate;
    }

    /// <summary>RFC 9110 §8.8.3.2: weak comparison of two entity tags (W/ prefixes ignored, opaque tags equal).</summary>
    public static bool WeakMatch(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => Opaque(a).SequenceEqual(Opaque(b)) && Opaque(a).Length > 0;

    private static ReadOnlySpan<byte> Opaque(ReadOnlySpan<byte> tag)
    {
        tag = HttpCharacters.TrimWhitespace(tag);
        return tag.StartsWith("W/"u8) ? tag[2..] : tag;
    }

    /// <summary>
    /// RFC 9110 §13.1.2, §13.2.2: whether a client's If-None-Match (else If-Modified-Since) is satisfied by the
    /// stored response, so that the answer is 304. If-None-Match uses weak comparison; "*" matches any stored response.
    /// </summary>
    public static bool NotModified(RequestHead request, CachedResponse stored)
    {
        bool hasNoneMatch = false;
        foreach (ref readonly HeaderField field in request.Headers)
        {
            if (!Ascii.EqualsIgnoreCase(request.NameOf(field), "if-none-match"u8))
            {
                continue;
            }

            hasNoneMatch = true;
            ReadOnlySpan<byte> value = request.ValueOf(field);
            if (HttpCharacters.TrimWhitespace(value).SequenceEqual("*"u8))
            {
                return true;
            }

            if (stored.HasETag)
            {
                foreach (Range part in value.Split((byte)','))
                {
                    if (WeakMatch(value[part], stored.ETag))
                    {
                        return true;
                    }
                }
            }
        }

        if (hasNoneMatch)
        {
            return false;
        }

        // §13.1.3: If-Modified-Since is ignored with If-None-Match, and is only for GET and HEAD.
        if (request.TryGetHeader("if-modified-since"u8, out ReadOnlySpan<byte> since) && HttpDate.TryParse(since, out DateTimeOffset sinceDate))
        {
            ReadOnlySpan<byte> modified = stored.HasLastModified ? stored.LastModified : stored.Field("date"u8);
            return HttpDate.TryParse(modified, out DateTimeOffset modifiedDate) && modifiedDate <= sinceDate;
        }

        return false;
    }
}

/// <summary>How a stored response may be used for a request.</summary>
public enum Reuse : byte
{
    Fresh,

    /// <summary>Stale, but the request's max-stale accepts it.</summary>
    AllowedStale,

    /// <summary>Stale within the response's stale-while-revalidate: served, and refreshed in the background.</summary>
    StaleWhileRevalidate,

    /// <summary>Only after the origin confirms it (a conditional request).</summary>
    Validate,
}
