using System.Text;
using HyperGate.Forwarding;

namespace HyperGate.Security;

/// <summary><c>require = { scopes = [...], claims = { NAME = [...] } }</c>: what an authenticated caller must have.</summary>
public sealed class AccessRequirement(IReadOnlyList<string> scopes, IReadOnlyList<KeyValuePair<string, string[]>> claims)
{
    public static AccessRequirement None { get; } = new([], []);

    /// <summary>Every listed scope, and for every listed claim at least one of its allowed values.</summary>
    public bool IsMetBy(Identity identity)
    {
        foreach (string scope in scopes)
        {
            if (!identity.Scopes.Contains(scope))
            {
                return false;
            }
        }

        foreach ((string claim, string[] allowed) in claims)
        {
            if (!identity.Claims.TryGetValue(claim, out string[]? values) || !values.Any(allowed.Contains))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>A route's authentication: any one of its authenticators may succeed; then the requirement must hold.</summary>
public sealed class RouteAuth
{
    public RouteAuth(IReadOnlyList<IAuthenticator> authenticators, AccessRequirement requirement)
    {
        Authenticators = [.. authenticators];
        Requirement = requirement;
        ChallengeField = Encoding.ASCII.GetBytes($"WWW-Authenticate: {string.Join(", ", Authenticators.Select(a => a.Challenge))}\r\n");
    }

    public IAuthenticator[] Authenticators { get; }

    public AccessRequirement Requirement { get; }

    /// <summary>The whole WWW-Authenticate field line sent with a 401.</summary>
    public byte[] ChallengeField { get; }

    /// <summary>
    /// The first authenticator that proves an identity wins. When none does, the most telling failure is kept
    /// (an invalid or expired credential over a missing one) for the access log; the client only sees 401.
    /// </summary>
    public async ValueTask<AuthResult> AuthenticateAsync(Exchange exchange)
    {
        AuthFailure failure = AuthFailure.MissingCredentials;
        foreach (IAuthenticator authenticator in Authenticators)
        {
            AuthResult result = await authenticator.AuthenticateAsync(exchange);
            if (result.Identity is { } identity)
            {
                return Requirement.IsMetBy(identity) ? result : new AuthResult(identity, AuthFailure.Forbidden);
            }

            if (result.Failure != AuthFailure.MissingCredentials)
            {
                failure = result.Failure;
            }
        }

        return new AuthResult(null, failure);
    }
}
