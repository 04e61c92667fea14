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
            CachedResponse refreshed = stored.Refreshed(StoredHead.Fields(response, now), StoredHead.Times(state.RequestTime, response, now));
            cache.Keep(state.Key, refreshed);
            store.Counters.Count(CacheEvent.Revalidated);
            bool notModified = CachePolicy.NotModified(request, refreshed);
            return StepResult.Answered(CacheResponseWriter.Write(exchange, refreshed, now, CacheStatus.Revalidated, withTtl: false, notModified));
        }

        if (state.Stored is not null)
        {
            store.Counters.Count(CacheEvent.RevalidationChanged);
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

        // A response fetched for a consumer serves only them, unless the origin shared it (public, s-maxage) and the
        // route does not key by consumer.
        CachedResponse? pending = null;
        string? consumer = (directives.Public || directives.SharedMaxAge >= 0) && !cache.Settings.KeyConsumer ? null : exchange.Identity?.ConsumerId;
        if (refusal == StoreRefusal.None)
        {
            pending = new CachedResponse(status, response.ReasonPhrase, StoredHead.Fields(response, now), [], StoredHead.Times(state.RequestTime, response, now), cache.Settings.DefaultTtl)
            {
                Vary = VaryValues(request, response),
                Tags = StoredHead.Tags(response),
                Consumer = consumer,
            };

            // Stale at once and without a validator, a stored copy could never answer anything: not worth keeping.
            if (pending.Times.FreshnessLifetime == 0 && !pending.HasETag && !pending.HasLastModified)
            {
                refusal = StoreRefusal.NoFreshness;
            }
        }

        exchange.ResponseFields = CacheStatus.Forwarded(state.Reason, stored: refusal == StoreRefusal.None);
        if (pending is null || refusal != StoreRefusal.None)
        {
            state.Pass(CacheLookupStep.PassUntil(now));
            return StepResult.Continue;
        }

        state.Collect(pending, response.ContentLength);
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

        cache.Store.Counters.Count(CacheEvent.StaleServed);
        bool notModified = CachePolicy.NotModified(exchange.Request, stored);
        return StepResult.Answered(CacheResponseWriter.Write(exchange, stored, now, CacheStatus.StaleIfError, withTtl: true, notModified));
    }

    /// <summary>The fields the response varies on (§4.1) and the route's key fields, with this request's normalized values.</summary>
    private (byte[] Name, byte[]? Value)[] VaryValues(RequestHead request, ResponseHead response)
    {
        if (cache.KeyHeaders.Length == 0 && !response.TryGetHeader("vary"u8, out _))
        {
            return [];
        }

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

    /// <summary>The tag fields are for this cache, not for clients.</summary>
    private static void DropTagFields(ResponseHead response)
    {
        for (int i = 0; i < response.HeaderCount; i++)
        {
            ref HeaderField field = ref response.HeaderAt(i);
            if (StoredHead.IsTag(response.NameOf(field)))
            {
                field.Dropped = true;
            }
        }
    }

    private static readonly byte[][] LocationFields = ["location"u8.ToArray(), "content-location"u8.ToArray()];

    /// <summary>§4.4: the target URI, and Location / Content-Location when they name the same origin (a different host could be used to purge another's entries).</summary>
    private void Invalidate(Exchange exchange, CacheExchange state, ResponseHead response)
    {
        var keys = new List<byte[]> { state.Key };
        var origin = new Uri(Encoding.ASCII.GetString(state.Key));
        foreach (byte[] name in LocationFields)
        {
            if (response.TryGetHeader(name, out ReadOnlySpan<byte> value)
                && Uri.TryCreate(origin, Encoding.ASCII.GetString(HttpCharacters.TrimWhitespace(value)), out Uri? target)
                && target.Scheme == origin.Scheme && string.Equals(target.Authority, origin.Authority, StringComparison.OrdinalIgnoreCase))
            {
                keys.Add(cache.KeyOf(target));
            }
        }

        cache.Forget(keys);
    }
}
