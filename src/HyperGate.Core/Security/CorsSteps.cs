using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Security;

/// <summary>
/// Request phase: a request from an allowed origin gets the policy's fields on its response; an allowed preflight
/// is answered here (it carries no credentials, so this step runs before authentication), a refused one is 403.
/// </summary>
public sealed class CorsRequestStep(CorsPolicy cors) : RequestStep
{
    public override ValueTask<StepResult> RunAsync(Exchange exchange)
    {
        RequestHead request = exchange.Request;
        if (!request.TryGetHeader("origin"u8, out ReadOnlySpan<byte> origin))
        {
            return ValueTask.FromResult(StepResult.Continue);
        }

        bool preflight = CorsPolicy.IsPreflight(request);
        if (!cors.AllowsOrigin(origin))
        {
            return ValueTask.FromResult(preflight ? StepResult.Refuse(RejectionReason.CorsRejected) : StepResult.Continue);
        }

        exchange.Cors = cors;
        if (!preflight)
        {
            return ValueTask.FromResult(StepResult.Continue);
        }

        if (!cors.AllowsPreflight(request))
        {
            return ValueTask.FromResult(StepResult.Refuse(RejectionReason.CorsRejected));
        }

        bool keepAlive = exchange.CanKeepAliveAfterAnswer();
        GatewayResponses.WritePreflight(exchange.Output, cors, request, !keepAlive, exchange.Date.Line);
        exchange.Status = GatewayResponses.PreflightStatus;
        return ValueTask.FromResult(StepResult.Answered(keepAlive));
    }
}

/// <summary>Response-head phase: the upstream's own CORS fields are dropped; the policy's are the ones sent.</summary>
public sealed class CorsResponseStep : ResponseStep
{
    public static CorsResponseStep Instance { get; } = new();

    public override StepResult OnResponseHead(Exchange exchange, ResponseHead response)
    {
        CorsPolicy.DropUpstreamFields(response);
        return StepResult.Continue;
    }
}
