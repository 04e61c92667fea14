using System.Diagnostics.Metrics;

namespace HyperGate.Diagnostics;

/// <summary>
/// The meter of the counters policies add (body transforms, validations, API versions): one per process, under the
/// gateway's meter name, and exported with the gateway's own instruments. Their tags (route, …) tell routes apart.
/// </summary>
public static class PolicyMetrics
{
    public static Meter Meter { get; } = new(GatewayMetrics.MeterName);
}
