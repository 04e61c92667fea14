namespace HyperGate.Upstreams.Health;

/// <summary>
/// An upstream's <c>health_check</c>: every <see cref="Interval"/> (jittered by ±10%) each destination gets
/// <c>GET Path</c> on a connection of its own; a status in [<see cref="ExpectLow"/>, <see cref="ExpectHigh"/>]
/// within <see cref="Timeout"/> passes. <see cref="Healthy"/> passes in a row bring a destination back,
/// <see cref="Unhealthy"/> failures in a row take it out.
/// </summary>
public sealed record HealthCheckSettings(string Path, TimeSpan Interval, TimeSpan Timeout, int Healthy, int Unhealthy, int ExpectLow, int ExpectHigh)
{
    public static HealthCheckSettings Default { get; } = new("/healthz", TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1), 2, 3, 200, 399);
}

/// <summary>
/// An upstream's <c>outlier</c> detection: after <see cref="ConsecutiveFailures"/> failed exchanges in a row
/// (connect failures, resets, timeouts, invalid responses and, with <see cref="Count5xx"/>, 5xx answers) a
/// destination is ejected for <see cref="BaseEjection"/>, doubled for each ejection in a row up to
/// <see cref="MaxEjection"/>; at most <see cref="MaxEjectedPercent"/> of the destinations are out at once.
/// </summary>
public sealed record OutlierSettings(int ConsecutiveFailures, TimeSpan BaseEjection, TimeSpan MaxEjection, int MaxEjectedPercent, bool Count5xx)
{
    public static OutlierSettings Default { get; } = new(5, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(5), 50, true);
}

/// <summary>What a destination is, as the admin API and metrics show it.</summary>
public enum DestinationHealth : byte
{
    Healthy,

    /// <summary>Failing its active health checks.</summary>
    Unhealthy,

    /// <summary>Taken out for a while by outlier detection.</summary>
    Ejected,
}

/// <summary>
/// How an upstream keeps its view of its destinations: active checks, outlier detection, the panic threshold
/// (below this percentage of available destinations, balance over all of them: better some errors than
/// overloading the few left) and slow start (a destination that comes back ramps up to its weight over this time).
/// </summary>
public sealed record UpstreamHealthSettings(HealthCheckSettings? Check, OutlierSettings? Outlier, int PanicThreshold, TimeSpan SlowStart)
{
    public static UpstreamHealthSettings Default { get; } = new(null, null, 50, TimeSpan.Zero);
}
