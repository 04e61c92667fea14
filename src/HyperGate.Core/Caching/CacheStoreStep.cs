using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Caching;

/// <summary>
/// Response-head phase: decides whether the upstream's response is stored (RFC 9111 §3) and starts collecting
/// its body as it streams to the client; refreshes a stored response from a 304 (§4.3.4) and answers from it;
/// serves a stale response when the origin fails and stale-if-error allows (RFC 5861 §4); and after a successful
/// unsafe method, invalidates the URI and its same-origin Location and Content-Location (§4.4).
/// </summary>
public sealed class CacheStoreStep(RouteCache cache) : ResponseStep
{
    public override StepResult OnResponseHead(Exchange exchange, ResponseHead response)
    {
        DropTagFields(response);
        if (exchange.PhaseState is not CacheExchange state)
        {
            return StepResult.Continue;
        }

        RequestHead request = exchange.Request;
        int status = response.StatusCode;
        if (request.Method is not (HttpMethod.Get or HttpMethod.Head))
        {
            if (status is >= 200 and < 400)
            {
                Invalidate(exchange, state, response);
            }

            return StepResult.Continue;
        }

        long now = cache.Now;
        CacheStore store = cache.Store;
        if (state.Stored is { } stored && status == 304)
        {
            // §4.3.4: the 304 freshens the stored response, which then answers (the client's own precondition applies to it).
            stored.Refresh(StoredFields(response, now), Times(state, response, now));
            store.Counters.Revalidated(notModified: true);
            bool notModified = CachePolicy.NotModified(request, stored);
            return StepResult.Answered(CacheResponseWriter.Write(exchange, stored, now, CacheStatus.Revalidated, withTtl: false, notModified));
        }

        if (state.Stored is not null)
        {
            store.Counters.Revalidated(notModified: false);
            if (status >= 500 && ServeStaleOnError(exchange, state, now) is { } answered)
            {
                return answered;
            }
        }

        CacheDirectives requestDirectives = CacheDirectives.Parse(request);
        CacheDirectives directives = CacheDirectives.Parse(response);
        StoreRefusal refusal = CachePolicy.MayStore(request, requestDirectives, response, directives, cache.Settings.StoreSetCookie);
        if (refusal == StoreRefusal.None && response.ContentLength > store.MaxObjectSize)
        {
            refusal = StoreRefusal.TooLarge;
        }

        exchange.ResponseFields = CacheStatus.Forwarded(state.Reason, stored: refusal == StoreRefusal.None);
        if (refusal != StoreRefusal.None)
        {
            state.Pass(CacheLookupStep.PassUntil(now));
            return StepResult.Continue;
        }

        StoredField[] fields = StoredFields(response, now);
        string? consumer = directives.Public || directives.SharedMaxAge >= 0 ? null : exchange.Identity?.ConsumerId;
        var pending = new CachedResponse(status, response.ReasonPhrase.ToArray(), fields, [], Times(state, response, now), cache.Settings.DefaultTtl)
        {
            Vary = VaryValues(request, response),
            Tags = Tags(response),
            Consumer = consumer,
        };
        state.Collect(pending, response.ContentLength, replaces: old => old.Consumer == consumer && SameVariant(old, pending));
        exchange.ResponseBodySink = state;
        return StepResult.Continue;
    }

    public override StepResult OnUpstreamFailure(Exchange exchange, RejectionReason failure) =>
        exchange.PhaseState is CacheExchange { Stored: not null } state && ServeStaleOnError(exchange, state, cache.Now) is { } answered ? answered : StepResult.Continue;

    /// <summary>
    /// RFC 5861 §4 and the route's stale_if_error: a stale response may stand in for an error while it is within
    /// the allowed staleness, unless the origin required revalidation (RFC 9111 §4.2.4).
    /// </summary>
    private StepResult? ServeStaleOnError(Exchange exchange, CacheExchange state, long now)
    {
        CachedResponse stored = state.Stored!;
        long staleness = stored.Times.CurrentAge(now) - stored.Times.FreshnessLifetime;
        long allowed = Math.Max(stored.Directives.StaleIfError, (long)cache.Settings.StaleIfError.TotalSeconds);
        if (!CachePolicy.MayServeStale(stored.Directives) || staleness > allowed)
        {
            return null;
        }

        cache.Store.Counters.ServedStale();
        bool notModified = CachePolicy.NotModified(exchange.Request, stored);
        return StepResult.Answered(CacheResponseWriter.Write(exchange, stored, now, CacheStatus.StaleIfError, withTtl: true, notModified));
    }

    /// <summary>§4.2.3's clock readings for a response that arrived now.</summary>
    private static CacheTimes Times(CacheExchange state, ResponseHead response, long now)
    {
        StoredField[] fields = StoredFields(response, now);
        long age = response.TryGetHeader("age"u8, out ReadOnlySpan<byte> ageValue) && CacheDirectives.TryParseDelta(HttpCharacters.TrimWhitespace(ageValue), out long parsed) ? parsed : 0;
        long date = CachePolicy.DateOf(fields, now);
        return new CacheTimes(state.RequestTime, now, date, age, 0);
    }

    /// <summary>
    /// What is stored of a response head (§3.1): every field the gateway forwards (hop-by-hop and framing fields
    /// are already dropped), less Age (recomputed on every hit); a Date is added when the origin sent none
    /// (RFC 9110 §6.6.1).
    /// </summary>
    private static StoredField[] StoredFields(ResponseHead response, long now)
    {
        var fields = new List<StoredField>(response.HeaderCount + 1);
        bool hasDate = false;
        foreach (ref readonly HeaderField field in response.Headers)
        {
            ReadOnlySpan<byte> name = response.NameOf(field);
            if (field.Dropped || Ascii.EqualsIgnoreCase(name, "age"u8))
            {
                continue;
            }

            hasDate |= Ascii.EqualsIgnoreCase(name, "date"u8);
            fields.Add(new StoredField(name.ToArray(), response.ValueOf(field).ToArray()));
        }

        if (!hasDate)
        {
            fields.Add(new StoredField("Date"u8.ToArray(), Encoding.ASCII.GetBytes(HttpDate.Format(DateTimeOffset.FromUnixTimeSeconds(now)))));
        }

        return [.. fields];
    }

    /// <summary>The fields the response varies on (§4.1) and the route's key fields, with this request's normalized values.</summary>
    private (byte[] Name, byte[]? Value)[] VaryValues(RequestHead request, ResponseHead response)
    {
        var names = new List<byte[]>(cache.KeyHeaders);
        foreach (ref readonly HeaderField field in response.Headers)
        {
            if (!Ascii.EqualsIgnoreCase(response.NameOf(field), "vary"u8))
            {
                continue;
            }

            ReadOnlySpan<byte> value = response.ValueOf(field);
            foreach (Range part in value.Split((byte)','))
            {
                byte[] name = HttpCharacters.TrimWhitespace(value[part]).ToArray();
                if (name.Length > 0 && !names.Any(n => Ascii.EqualsIgnoreCase(n, name)))
                {
                    names.Add(name);
                }
            }
        }

        Span<byte> buffer = stackalloc byte[512];
        var values = new (byte[] Name, byte[]? Value)[names.Count];
        for (int i = 0; i < names.Count; i++)
        {
            int length = RouteCache.NormalizedValue(request, names[i], buffer);

            // A value too long to compare makes a variant no request can select (-2 never matches).
            values[i] = (names[i], length == -1 ? null : length == -2 ? [0] : buffer[..length].ToArray());
        }

        return values;
    }

    private static bool SameVariant(CachedResponse old, CachedResponse current) =>
        old.Vary.Length == current.Vary.Length && old.Vary.Zip(current.Vary).All(p =>
            Ascii.EqualsIgnoreCase(p.First.Name, p.Second.Name) && (p.First.Value ?? []).AsSpan().SequenceEqual(p.Second.Value ?? []) && (p.First.Value is null) == (p.Second.Value is null));

    /// <summary>Surrogate-Key and Cache-Tag: space- (or comma-) separated tags a purge can name.</summary>
    private static string[] Tags(ResponseHead response)
    {
        var tags = new List<string>();
        foreach (ref readonly HeaderField field in response.Headers)
        {
            ReadOnlySpan<byte> name = response.NameOf(field);
            if (Ascii.EqualsIgnoreCase(name, "surrogate-key"u8) || Ascii.EqualsIgnoreCase(name, "cache-tag"u8))
            {
                tags.AddRange(Encoding.ASCII.GetString(response.ValueOf(field)).Split([' ', ','], StringSplitOptions.RemoveEmptyEntries));
            }
        }

        return [.. tags];
    }

    /// <summary>The tag fields are for this cache, not for clients.</summary>
    private static void DropTagFields(ResponseHead response)
    {
        for (int i = 0; i < response.HeaderCount; i++)
        {
            ref HeaderField field = ref response.HeaderAt(i);
            ReadOnlySpan<byte> name = response.NameOf(field);
            if (Ascii.EqualsIgnoreCase(name, "surrogate-key"u8) || Ascii.EqualsIgnoreCase(name, "cache-tag"u8))
            {
                field.Dropped = true;
            }
        }
    }

    private static readonly byte[][] LocationFields = ["location"u8.ToArray(), "content-location"u8.ToArray()];

    /// <summary>§4.4: the target URI, and Location / Content-Location when they name the same origin (a different host could be used to purge another's entries).</summary>
    private void Invalidate(Exchange exchange, CacheExchange state, ResponseHead response)
    {
        CacheStore store = cache.Store;
        store.Remove(state.Key);
        var origin = new Uri(Encoding.ASCII.GetString(state.Key));
        foreach (byte[] name in LocationFields)
        {
            if (response.TryGetHeader(name, out ReadOnlySpan<byte> value)
                && Uri.TryCreate(origin, Encoding.ASCII.GetString(HttpCharacters.TrimWhitespace(value)), out Uri? target)
                && target.Scheme == origin.Scheme && string.Equals(target.Authority, origin.Authority, StringComparison.OrdinalIgnoreCase))
            {
                store.Remove(cache.KeyOf(target));
            }
        }
    }
}
