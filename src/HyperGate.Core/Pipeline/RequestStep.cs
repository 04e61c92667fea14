using HyperGate.Forwarding;

namespace HyperGate.Pipeline;

/// <summary>
/// One step of a route's request phase (address filter, CORS, authentication, rate limits, cache lookup…), run
/// in order after routing and before forwarding. Most steps decide synchronously: a completed
/// <see cref="ValueTask{TResult}"/> costs no allocation.
/// </summary>
public abstract class RequestStep
{
    /// <summary>Decides about the exchange; a step that answers writes the whole response to the exchange's output.</summary>
    public abstract ValueTask<StepResult> RunAsync(Exchange exchange);
}
