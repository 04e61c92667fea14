using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Security;

/// <summary>
/// Request phase, on every route once any authentication is configured: a client's own copies of the identity
/// fields the gateway sends upstream are dropped, so an upstream never mistakes them for ours.
/// </summary>
public sealed class DropIdentityFieldsStep(IdentityHeaders identityHeaders) : RequestStep
{
    public override ValueTask<StepResult> RunAsync(Exchange exchange)
    {
        identityHeaders.DropClientCopies(exchange.Request);
        return ValueTask.FromResult(StepResult.Continue);
    }
}

/// <summary>Request phase: authenticates the caller and checks the route's scopes and claims (401 with a challenge, or 403).</summary>
public sealed class AuthenticationStep(RouteAuth auth) : RequestStep
{
    public override ValueTask<StepResult> RunAsync(Exchange exchange)
    {
        ValueTask<AuthResult> pending = auth.AuthenticateAsync(exchange);
        return pending.IsCompletedSuccessfully ? ValueTask.FromResult(Decide(exchange, pending.Result)) : DecideAsync(exchange, pending);
    }

    private async ValueTask<StepResult> DecideAsync(Exchange exchange, ValueTask<AuthResult> pending) => Decide(exchange, await pending);

    private StepResult Decide(Exchange exchange, AuthResult result)
    {
        exchange.AuthFailure = result.Failure;
        if (result.Failure == AuthFailure.Forbidden)
        {
            return StepResult.Refuse(RejectionReason.Forbidden);
        }

        if (result.Failure != AuthFailure.None)
        {
            return StepResult.Refuse(RejectionReason.Unauthorized, auth.ChallengeField);
        }

        exchange.Identity = result.Identity;
        return StepResult.Continue;
    }
}
