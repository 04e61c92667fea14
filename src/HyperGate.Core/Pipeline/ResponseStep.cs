using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Pipeline;

/// <summary>
/// One step of a route's response-head phase: it sees the upstream's final response head before it is written
/// downstream, and may change its fields, take a copy of the body (a cache storing it), or answer instead.
/// </summary>
public abstract class ResponseStep
{
    /// <summary>Continue, or Answered when the step wrote the whole response itself.</summary>
    public abstract StepResult OnResponseHead(Exchange exchange, ResponseHead response);

    /// <summary>
    /// The upstream could not answer (<paramref name="failure"/>: refused, reset, timed out): a step may answer
    /// instead of the gateway's error (a cache serving a stale response). Continue lets the error go out.
    /// </summary>
    public virtual StepResult OnUpstreamFailure(Exchange exchange, RejectionReason failure) => StepResult.Continue;
}
