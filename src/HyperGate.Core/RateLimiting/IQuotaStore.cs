namespace HyperGate.RateLimiting;

/// <summary>What a limit shared by several gateway instances looks like to the store that keeps it.</summary>
public sealed record SharedLimit(string Name, RateLimitAlgorithm Algorithm, long Rate, TimeSpan Per, long Burst);

/// <summary>
/// Up to <c>want</c> admissions leased from the shared quota, after charging <c>charge</c> admissions the
/// instance already made on credit. <see cref="RetryAfter"/> is when the quota has room again, when it is
/// empty; <see cref="Remaining"/> is what the shared quota still holds after this lease.
/// </summary>
public readonly record struct QuotaLease(long Granted, TimeSpan RetryAfter, long Remaining);

/// <summary>The shared quota of cluster-scoped limits (Redis in production).</summary>
public interface IQuotaStore : IAsyncDisposable
{
    Task<QuotaLease> LeaseAsync(SharedLimit limit, byte[] key, long charge, long want);

    /// <summary>Completes when the store answers; throws when it cannot be reached.</summary>
    Task PingAsync();
}
