namespace HyperGate.RateLimiting;

/// <summary>
/// The answer of one limit for one request. Times are in <see cref="TimeProvider.GetTimestamp"/> ticks so
/// the hot path never converts; the header writer turns them into whole seconds.
/// </summary>
public struct RateLimitDecision
{
    public bool Allowed;

    /// <summary>Requests the key may still make right now (after this one, when allowed).</summary>
    public long Remaining;

    /// <summary>Ticks until the key's quota is whole again (the RateLimit header's reset).</summary>
    public long ResetTicks;

    /// <summary>Ticks until the next request would be allowed; zero when allowed.</summary>
    public long RetryAfterTicks;

    /// <summary>Refused because a cluster limit's store is down and its mode is "deny" (503, not 429).</summary>
    public bool StoreUnavailable;

    /// <summary>The per-key state that admitted the request, kept so the admission can be refunded.</summary>
    internal object? Entry;
}
