namespace HyperGate.RateLimiting;

/// <summary>One configured limit, applied per key.</summary>
internal interface IRateLimiter : IDisposable
{
    /// <summary>Admits or refuses one request for <paramref name="key"/>; never waits.</summary>
    bool TryAcquire(ReadOnlySpan<byte> key, ref RateLimitDecision decision);

    /// <summary>Gives back an admission made by <see cref="TryAcquire"/> (another limit refused the request).</summary>
    void Refund(in RateLimitDecision decision);
}
