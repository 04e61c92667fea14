using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Pipeline;

/// <summary>
/// A route's policies compiled into ordered steps per phase. The engine runs the phases; it never names a policy,
/// and a policy never names the engine: a new policy is a folder that adds steps.
/// </summary>
public sealed class RoutePhases(RequestStep[] request, ResponseStep[] responseHead)
{
    public static RoutePhases Empty { get; } = new([], []);

    /// <summary>The upstream-request phase: how the fields of the request sent upstream are rewritten; null when they are not.</summary>
    public HeadRewrite? UpstreamFields { get; init; }

    /// <summary>The upstream-request phase: how the query sent upstream is rewritten; null when it goes as received.</summary>
    public QueryRewrite? UpstreamQuery { get; init; }

    /// <summary>The response-head phase, last: how the fields of the response the client gets are rewritten; null when they are not.</summary>
    public HeadRewrite? ResponseFields { get; init; }

    /// <summary>The response-head phase's encoding choice (compression); null when bodies go as they come.</summary>
    public ResponseEncoding? ResponseEncoding { get; init; }

    /// <summary>After the request phase: steps that see the whole request body before it is forwarded.</summary>
    public RequestBodyStep[] RequestBody { get; init; } = [];

    /// <summary>The largest request body the request-body phase reads: the smallest bound of its steps.</summary>
    public long RequestBodyLimit { get; init; }

    /// <summary>Steps that see the whole body of a response before it goes to the client.</summary>
    public ResponseBodyStep[] ResponseBody { get; init; } = [];

    /// <summary>Runs the request-body phase on the whole body, up to the first step that does not continue.</summary>
    public StepResult RunRequestBody(Exchange exchange, ref byte[] body)
    {
        foreach (RequestBodyStep step in RequestBody)
        {
            StepResult result = step.OnRequestBody(exchange, ref body);
            if (result.Verdict != StepVerdict.Continue)
            {
                return result;
            }
        }

        return StepResult.Continue;
    }

    /// <summary>After routing, before forwarding: ip filter, CORS, authentication, rate limits, in that order.</summary>
    public RequestStep[] Request { get; } = request;

    /// <summary>On the upstream's final response head, before it goes downstream.</summary>
    public ResponseStep[] ResponseHead { get; } = responseHead;

    /// <summary>Runs the request phase up to the first step that does not continue. Allocates nothing while every step decides synchronously.</summary>
    public ValueTask<StepResult> RunRequestAsync(Exchange exchange)
    {
        RequestStep[] steps = Request;
        for (int i = 0; i < steps.Length; i++)
        {
            ValueTask<StepResult> pending = steps[i].RunAsync(exchange);
            if (!pending.IsCompletedSuccessfully)
            {
                return ContinueAsync(pending, i, exchange);
            }

            StepResult result = pending.Result;
            if (result.Verdict != StepVerdict.Continue)
            {
                return ValueTask.FromResult(result);
            }
        }

        return ValueTask.FromResult(StepResult.Continue);
    }

    private async ValueTask<StepResult> ContinueAsync(ValueTask<StepResult> pending, int index, Exchange exchange)
    {
        RequestStep[] steps = Request;
        StepResult result = await pending;
        for (int i = index + 1; result.Verdict == StepVerdict.Continue && i < steps.Length; i++)
        {
            result = await steps[i].RunAsync(exchange);
        }

        return result;
    }

    /// <summary>Runs the response-head phase on the upstream's final head: null, or whether the connection stays open when a step answered.</summary>
    public bool? RunResponseHead(Exchange exchange, ResponseHead response)
    {
        foreach (ResponseStep step in ResponseHead)
        {
            StepResult result = step.OnResponseHead(exchange, response);
            if (result.Verdict == StepVerdict.Answered)
            {
                return result.KeepAlive;
            }
        }

        return null;
    }

    /// <summary>When the upstream failed: null lets the gateway's error go out; else a step answered, and whether the connection stays open.</summary>
    public bool? RunUpstreamFailure(Exchange exchange, RejectionReason failure)
    {
        foreach (ResponseStep step in ResponseHead)
        {
            StepResult result = step.OnUpstreamFailure(exchange, failure);
            if (result.Verdict == StepVerdict.Answered)
            {
                return result.KeepAlive;
            }
        }

        return null;
    }
}
