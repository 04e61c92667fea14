using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Security;

/// <summary>Request phase: the route's address allow and deny lists (the server-wide list runs before routing).</summary>
public sealed class IpFilterStep(IpFilter filter) : RequestStep
{
    public override ValueTask<StepResult> RunAsync(Exchange exchange) =>
        ValueTask.FromResult(filter.Permits(exchange.ClientIp(exchange.Snapshot.TrustedProxies)) ? StepResult.Continue : StepResult.Refuse(RejectionReason.IpDenied));
}
