using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Caching;

/// <summary>
/// Request phase, last before forwarding: answers from the store when a stored response may be used (RFC 9111
/// §4), 304 when the client's own precondition matches it (§4.3.2); otherwise lets the request go upstream,
/// conditional when a stored response only needs validating (§4.3.1), and coalesced with other misses for the
/// same key. A hit allocates nothing.
/// </summary>
public sealed class CacheLookupStep(RouteCache cache, TimeSpan coalesceTimeout) : RequestStep
{
    /// <summary>How long a key whose response proved uncacheable goes upstream without coalescing.</summary>
    private const long PassSeconds = 10;

    public override ValueTask<StepResult> RunAsync(Exchange exchange)
    {
        RequestHead request = exchange.Request;
        CacheStore store = cache.Store;
        if (request.Method is not (HttpMethod.Get or HttpMethod.Head))
        {
            // §4.4: an unsafe method's success invalidates what is stored for its URI; the response step does that.
            if (request.Method is not (HttpMethod.Options or HttpMethod.Trace))
            {
                exchange.PhaseState = new CacheExchange(cache, Key(exchange), ForwardReason.Bypass);
            }

            exchange.ResponseFields = CacheStatus.Bypass;
            store.Counters.Count(CacheEvent.Passed);
            return ValueTask.FromResult(StepResult.Continue);
        }

        if (request.TryGetHeader("range"u8, out _))
        {
            // Ranges are passed through whole to the origin: never a wrong range from a partial store.
            exchange.ResponseFields = CacheStatus.Bypass;
            store.Counters.Count(CacheEvent.Passed);
            return ValueTask.FromResult(StepResult.Continue);
        }

        int maxLength = RouteCache.MaxKeyLength(request);
        byte[]? rented = maxLength > RouteCache.StackKeyLength ? ArrayPool<byte>.Shared.Rent(maxLength) : null;
        Span<byte> buffer = rented is not null ? rented : stackalloc byte[RouteCache.StackKeyLength];
        try
        {
            Span<byte> key = buffer[..cache.WriteKey(request, exchange.IsHttps, buffer)];
            CacheDirectives directives = CacheDirectives.Parse(request);
            long now = cache.Now;
            CacheObject? entry = store.Find(key);
            CachedResponse? stored = entry is null ? null : RouteCache.Select(entry, request, exchange);
            if (stored is not null && TryAnswer(exchange, stored, key, directives, now, CacheStatus.Hit) is { } answered)
            {
                return ValueTask.FromResult(answered);
            }

            if (directives.OnlyIfCached)
            {
                exchange.ResponseFields = CacheStatus.OnlyIfCachedMiss;
                return ValueTask.FromResult(StepResult.Refuse(RejectionReason.NotCached));
            }

            ForwardReason reason = stored is not null
                ? (directives.NoCache || directives.MaxAge >= 0 || directives.MinFresh >= 0 || PragmaNoCache(request) && !directives.Present ? ForwardReason.Request : ForwardReason.Stale)
                : entry is null ? ForwardReason.UriMiss : ForwardReason.VaryMiss;
            if (stored is not null)
            {
                AddValidators(exchange, stored);
                return ValueTask.FromResult(Forward(exchange, new CacheExchange(cache, key.ToArray(), reason) { Stored = stored, RequestTime = now }));
            }

            if (request.Method == HttpMethod.Head || reason == ForwardReason.VaryMiss)
            {
                return cache.Fleet is { IsAvailable: true } ? AskFleetAsync(exchange, key.ToArray(), reason, fill: null)
                    : ValueTask.FromResult(Forward(exchange, new CacheExchange(cache, key.ToArray(), reason) { RequestTime = now }));
            }

            (Fill? fill, bool leads) = store.JoinFill(key, now);
            if (fill is null || leads)
            {
                return cache.Fleet is { IsAvailable: true } ? AskFleetAsync(exchange, fill?.Key ?? key.ToArray(), reason, fill)
                    : ValueTask.FromResult(Forward(exchange, new CacheExchange(cache, fill?.Key ?? key.ToArray(), reason) { Fill = fill, RequestTime = now }));
            }

            store.Counters.Count(CacheEvent.Coalesced);
            return WaitForFillAsync(exchange, fill);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// A stored response that may answer without the origin (RFC 9111 §4.2, RFC 5861 §3) does: the answer, or null
    /// when it needs validating first.
    /// </summary>
    private StepResult? TryAnswer(Exchange exchange, CachedResponse stored, ReadOnlySpan<byte> key, in CacheDirectives directives, long now, byte[] hitStatus)
    {
        Reuse reuse = CachePolicy.Decide(stored, directives, PragmaNoCache(exchange.Request), now);
        if (reuse == Reuse.StaleWhileRevalidate)
        {
            // Allocates only for the request that starts the refresh; the key is copied then.
            if (!cache.Store.IsRefreshing(key))
            {
                BackgroundRefresh.Start(cache, exchange, key.ToArray(), stored);
            }

            return Serve(exchange, stored, now, CacheStatus.StaleWhileRevalidate);
        }

        return reuse == Reuse.Validate ? null : Serve(exchange, stored, now, reuse == Reuse.Fresh ? hitStatus : CacheStatus.StaleHit);
    }

    /// <summary>The request goes upstream (a miss in the route's hit ratio), with what its response step needs.</summary>
    private StepResult Forward(Exchange exchange, CacheExchange state)
    {
        cache.Counters.Miss();
        exchange.PhaseState = state;
        return StepResult.Continue;
    }

    /// <summary>
    /// A local miss asks the fleet tier before going upstream (for at most <c>redis_timeout</c>); what it holds is
    /// stored here too, and answers when it may; a stale one goes upstream to be validated.
    /// </summary>
    private async ValueTask<StepResult> AskFleetAsync(Exchange exchange, byte[] key, ForwardReason reason, Fill? fill)
    {
        CachedResponse[] shared = await cache.Fleet!.FetchAsync(key);
        foreach (CachedResponse variant in shared)
        {
            cache.Store.Store(key, variant);
        }

        long now = cache.Now;
        if (shared.Length > 0 && cache.Store.Find(key) is { } entry && RouteCache.Select(entry, exchange.Request, exchange) is { } stored)
        {
            if (TryAnswer(exchange, stored, key, CacheDirectives.Parse(exchange.Request), now, CacheStatus.FleetHit) is { } answered)
            {
                fill?.Complete(stored: true, passUntil: 0);
                return answered;
            }

            AddValidators(exchange, stored);
            return Forward(exchange, new CacheExchange(cache, key, ForwardReason.Stale) { Stored = stored, Fill = fill, RequestTime = now });
        }

        return Forward(exchange, new CacheExchange(cache, key, reason) { Fill = fill, RequestTime = now });
    }

    /// <summary>
    /// A coalesced miss: waits for the leader's response; streams it as it arrives when it is being stored, or is
    /// served from the store once it is; otherwise (uncacheable, or too slow) goes upstream itself.
    /// </summary>
    private async ValueTask<StepResult> WaitForFillAsync(Exchange exchange, Fill fill)
    {
        FillOutcome outcome;
        try
        {
            outcome = await fill.Done.WaitAsync(coalesceTimeout, cache.Time);
        }
        catch (TimeoutException)
        {
            outcome = FillOutcome.NotStored;
        }

        long now = cache.Now;
        CacheDirectives directives = CacheDirectives.Parse(exchange.Request);
        if (outcome == FillOutcome.Streaming && fill.StreamingHead is { } head && fill.StreamingBody is { CutShort: false } body
            && RouteCache.Selects(head, exchange.Request, exchange) && CachePolicy.Decide(head, directives, PragmaNoCache(exchange.Request), now) == Reuse.Fresh)
        {
            return await StreamAsync(exchange, head, body, now);
        }

        if (outcome != FillOutcome.NotStored && cache.Store.Find(fill.Key) is { } entry && RouteCache.Select(entry, exchange.Request, exchange) is { } response
            && CachePolicy.Decide(response, directives, PragmaNoCache(exchange.Request), now) != Reuse.Validate)
        {
            return Serve(exchange, response, now, CacheStatus.CollapsedHit);
        }

        return Forward(exchange, new CacheExchange(cache, fill.Key, ForwardReason.UriMiss) { RequestTime = now });
    }

    /// <summary>
    /// Writes the leader's response as its body arrives. A body cut short closes the connection with what was
    /// written, so the client sees the response is incomplete (RFC 9112 §6.3: fewer bytes than Content-Length).
    /// </summary>
    private async ValueTask<StepResult> StreamAsync(Exchange exchange, CachedResponse head, GrowingBody body, long now)
    {
        cache.Counters.Hit();
        bool notModified = CachePolicy.NotModified(exchange.Request, head);
        int length = body.Array.Length;
        bool keepAlive = CacheResponseWriter.WriteHead(exchange, head, length, now, CacheStatus.CollapsedHit, withTtl: true, notModified, out bool withBody);
        if (!withBody)
        {
            return StepResult.Answered(keepAlive);
        }

        int written = 0;
        while (written < length)
        {
            (int filled, bool? whole) = await body.WaitAsync(written);
            if (filled > written)
            {
                exchange.Output.Write(body.Array.AsSpan(written, filled - written));
                exchange.ResponseBodyBytes = written = filled;
                FlushResult flushed = await exchange.Output.FlushAsync();
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    return StepResult.Answered(keepAlive: false);
                }
            }
            else if (whole is not null)
            {
                return StepResult.Answered(keepAlive: false);
            }
        }

        return StepResult.Answered(keepAlive);
    }

    private StepResult Serve(Exchange exchange, CachedResponse stored, long now, byte[] status)
    {
        cache.Counters.Hit();
        if (status == CacheStatus.StaleHit || status == CacheStatus.StaleWhileRevalidate)
        {
            cache.Store.Counters.Count(CacheEvent.StaleServed);
        }

        bool notModified = CachePolicy.NotModified(exchange.Request, stored);
        return StepResult.Answered(CacheResponseWriter.Write(exchange, stored, now, status, withTtl: true, notModified));
    }

    /// <summary>
    /// §4.3.1: the request goes upstream with the stored response's validators instead of the client's own
    /// (the client's precondition is answered from the refreshed response).
    /// </summary>
    internal static void AddValidators(Exchange exchange, CachedResponse stored)
    {
        if (!stored.HasETag && !stored.HasLastModified)
        {
            return;
        }

        RequestHead request = exchange.Request;
        for (int i = 0; i < request.HeaderCount; i++)
        {
            ref HeaderField field = ref request.HeaderAt(i);
            ReadOnlySpan<byte> name = request.NameOf(field);
            if (Ascii.EqualsIgnoreCase(name, "if-none-match"u8) || Ascii.EqualsIgnoreCase(name, "if-modified-since"u8))
            {
                field.Dropped = true;
            }
        }

        var fields = new StringBuilder();
        if (stored.HasETag)
        {
            fields.Append("If-None-Match: ").Append(Encoding.Latin1.GetString(stored.ETag)).Append("\r\n");
        }

        if (stored.HasLastModified)
        {
            fields.Append("If-Modified-Since: ").Append(Encoding.Latin1.GetString(stored.LastModified)).Append("\r\n");
        }

        exchange.UpstreamFields = Encoding.Latin1.GetBytes(fields.ToString());
    }

    /// <summary>The key of the request's own URI (for invalidation after an unsafe method).</summary>
    private byte[] Key(Exchange exchange)
    {
        RequestHead request = exchange.Request;
        var key = new byte[RouteCache.MaxKeyLength(request)];
        return key[..cache.WriteKey(request, exchange.IsHttps, key)];
    }

    private static bool PragmaNoCache(RequestHead request) =>
        request.TryGetHeader("pragma"u8, out ReadOnlySpan<byte> pragma) && Ascii.EqualsIgnoreCase(HttpCharacters.TrimWhitespace(pragma), "no-cache"u8);

    internal static long PassUntil(long now) => now + PassSeconds;
}
