namespace HyperGate.RateLimiting;

/// <summary>What a cluster-scoped limit does while its store cannot be reached.</summary>
public enum StoreFailureMode
{
    /// <summary>Limits fall back to local buckets of rate / instances (the default).</summary>
    Local,

    /// <summary>Every request is admitted.</summary>
    Allow,

    /// <summary>Every request is refused with 503.</summary>
    Deny,
}
