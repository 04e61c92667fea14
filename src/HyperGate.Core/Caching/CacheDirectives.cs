using System.Text;
using HyperGate.Http1;

namespace HyperGate.Caching;

/// <summary>
/// The Cache-Control directives of one message (RFC 9111 §5.2), from every Cache-Control field line (a list may be
/// split across lines, RFC 9110 §5.3). Directive names are case-insensitive; arguments may be tokens or quoted
/// strings (§5.2). Durations are in seconds; -1 means absent.
/// </summary>
public struct CacheDirectives
{
    /// <summary>RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31.</summary>
    public const long MaxDelta = 2147483648;

    /// <summary>Whether the message had any Cache-Control field.</summary>
    public bool Present;

    public bool NoStore;
    public bool NoCache;
    public bool Private;
    public bool Public;
    public bool MustRevalidate;
    public bool ProxyRevalidate;
    public bool MustUnderstand;
    public bool OnlyIfCached;

    /// <summary>A freshness directive was present with a value that is not delta-seconds, or twice with different values.</summary>
    public bool InvalidFreshness;

    public long MaxAge;
    public long SharedMaxAge;
    public long MaxStale;
    public long MinFresh;
    public long StaleWhileRevalidate;
    public long StaleIfError;

    /// <summary>Request: <c>max-stale</c> without a value accepts a response however stale (§5.2.1.2).</summary>
    public bool MaxStaleAny;

    public static CacheDirectives None => new() { MaxAge = -1, SharedMaxAge = -1, MaxStale = -1, MinFresh = -1, StaleWhileRevalidate = -1, StaleIfError = -1 };

    public static CacheDirectives Parse(MessageHead head)
    {
        CacheDirectives directives = None;
        foreach (ref readonly HeaderField field in head.Headers)
        {
            if (Ascii.EqualsIgnoreCase(head.NameOf(field), "cache-control"u8))
            {
                directives.Present = true;
                directives.Add(head.ValueOf(field));
            }
        }

        return directives;
    }

    public static CacheDirectives Parse(ReadOnlySpan<byte> value)
    {
        CacheDirectives directives = None;
        directives.Present = true;
        directives.Add(value);
        return directives;
    }

    /// <summary>Adds the directives of one more Cache-Control field line.</summary>
    internal void Add(ReadOnlySpan<byte> value)
    {
        int position = 0;
        while (position < value.Length)
        {
            // One directive: token [ "=" ( token / quoted-string ) ], then OWS "," OWS.
            while (position < value.Length && (value[position] is (byte)' ' or (byte)'\t' or (byte)','))
            {
                position++;
            }

            int nameStart = position;
            while (position < value.Length && value[position] is not ((byte)'=' or (byte)',' or (byte)' ' or (byte)'\t'))
            {
                position++;
            }

            ReadOnlySpan<byte> name = value[nameStart..position];
            while (position < value.Length && value[position] is (byte)' ' or (byte)'\t')
            {
                position++;
            }

            ReadOnlySpan<byte> argument = default;
            bool hasArgument = false;
            if (position < value.Length && value[position] == '=')
            {
                hasArgument = true;
                position++;
                while (position < value.Length && value[position] is (byte)' ' or (byte)'\t')
                {
                    position++;
                }

                if (position < value.Length && value[position] == '"')
                {
                    int start = ++position;
                    while (position < value.Length && value[position] != '"')
                    {
                        position += value[position] == '\\' ? 2 : 1;
                    }

                    argument = value[start..Math.Min(position, value.Length)];
                    position++;
                }
                else
                {
                    int start = position;
                    while (position < value.Length && value[position] is not ((byte)',' or (byte)' ' or (byte)'\t'))
                    {
                        position++;
                    }

                    argument = value[start..position];
                }
            }

            // Skip anything up to the next comma (a malformed remainder of this directive).
            while (position < value.Length && value[position] != ',')
            {
                position++;
            }

            if (!name.IsEmpty)
            {
                Apply(name, argument, hasArgument);
            }
        }
    }

    private void Apply(ReadOnlySpan<byte> name, ReadOnlySpan<byte> argument, bool hasArgument)
    {
        if (Is(name, "max-age"u8))
        {
            SetDelta(ref MaxAge, argument, hasArgument, freshness: true);
        }
        else if (Is(name, "s-maxage"u8))
        {
            SetDelta(ref SharedMaxAge, argument, hasArgument, freshness: true);
        }
        else if (Is(name, "no-store"u8))
        {
            NoStore = true;
        }
        else if (Is(name, "no-cache"u8))
        {
            // §5.2.2.4: a qualified no-cache (field names) is honoured as unqualified, which the RFC allows
            // (the cache may store but must revalidate; always revalidating is never wrong).
            NoCache = true;
        }
        else if (Is(name, "private"u8))
        {
            // §5.2.2.7: a shared cache must not store the named fields; not storing the response at all is the safe reading.
            Private = true;
        }
        else if (Is(name, "public"u8))
        {
            Public = true;
        }
        else if (Is(name, "must-revalidate"u8))
        {
            MustRevalidate = true;
        }
        else if (Is(name, "proxy-revalidate"u8))
        {
            ProxyRevalidate = true;
        }
        else if (Is(name, "must-understand"u8))
        {
            MustUnderstand = true;
        }
        else if (Is(name, "only-if-cached"u8))
        {
            OnlyIfCached = true;
        }
        else if (Is(name, "max-stale"u8))
        {
            if (hasArgument)
            {
                SetDelta(ref MaxStale, argument, hasArgument, freshness: false);
            }
            else
            {
                MaxStaleAny = true;
            }
        }
        else if (Is(name, "min-fresh"u8))
        {
            SetDelta(ref MinFresh, argument, hasArgument, freshness: false);
        }
        else if (Is(name, "stale-while-revalidate"u8))
        {
            SetDelta(ref StaleWhileRevalidate, argument, hasArgument, freshness: false);
        }
        else if (Is(name, "stale-if-error"u8))
        {
            SetDelta(ref StaleIfError, argument, hasArgument, freshness: false);
        }

        // §5.2.3: unknown extension directives are ignored.
    }

    /// <summary>
    /// §4.2.1: a freshness directive with a value that is not delta-seconds, or repeated with different values, makes
    /// the response stale (the RFC encourages that reading). Other directives with a bad value are ignored.
    /// </summary>
    private void SetDelta(ref long target, ReadOnlySpan<byte> argument, bool hasArgument, bool freshness)
    {
        if (!hasArgument || !TryParseDelta(argument, out long seconds))
        {
            InvalidFreshness |= freshness;
            return;
        }

        if (target >= 0 && target != seconds)
        {
            InvalidFreshness |= freshness;
            target = Math.Min(target, seconds);
            return;
        }

        target = seconds;
    }

    /// <summary>delta-seconds = 1*DIGIT (§1.2.2); values beyond 2^31 are 2^31.</summary>
    public static bool TryParseDelta(ReadOnlySpan<byte> text, out long seconds)
    {
        seconds = 0;
        if (text.IsEmpty)
        {
            return false;
        }

        foreach (byte b in text)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            seconds = Math.Min(seconds * 10 + (b - '0'), MaxDelta);
        }

        return true;
    }

    private static bool Is(ReadOnlySpan<byte> name, ReadOnlySpan<byte> directive) => Ascii.EqualsIgnoreCase(name, directive);
}
