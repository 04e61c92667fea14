using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Pipeline;

/// <summary>
/// One step of a route's response-head phase: it sees the upstream's final response head before it is written
/// downstream, and may change its fields (drop, add) or take note of it (a cache deciding whether to store).
/// </summary>
public abstract class ResponseStep
{
    public abstract void OnResponseHead(Exchange exchange, ResponseHead response);
}
