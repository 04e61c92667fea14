using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.RateLimiting;

/// <summary>Request phase: every limit of the route must admit the request (429, or 503 when a shared store is down and fails closed).</summary>
public sealed class RateLimitStep(RouteRateLimits limits, TimeProvider time) : RequestStep
{
    public override ValueTask<StepResult> RunAsync(Exchange exchange)
    {
        RejectionReason rejection = exchange.RateLimits.Apply(limits, exchange, exchange.Snapshot.TrustedProxies, time.TimestampFrequency);
        return ValueTask.FromResult(rejection == RejectionReason.None ? StepResult.Continue : StepResult.Refuse(rejection));
    }
}
