using HyperGate.Forwarding;

namespace HyperGate.Security;

/// <summary>Why a request was not let through; kept for the access log, never sent to the client.</summary>
public enum AuthFailure : byte
{
    None,

    /// <summary>No credential of any kind the route accepts.</summary>
    MissingCredentials,

    /// <summary>A credential that is malformed, unknown, or has a bad signature, issuer, audience or algorithm.</summary>
    InvalidCredentials,

    /// <summary>A token past its expiry (or before its not-before time).</summary>
    Expired,

    /// <summary>Authenticated, but without the scopes or claims the route requires.</summary>
    Forbidden,
}

/// <summary>The outcome of one authenticator: an identity, or why there is none.</summary>
public readonly record struct AuthResult(Identity? Identity, AuthFailure Failure)
{
    public static AuthResult Missing { get; } = new(null, AuthFailure.MissingCredentials);

    public static AuthResult Invalid { get; } = new(null, AuthFailure.InvalidCredentials);

    public static AuthResult Success(Identity identity) => new(identity, AuthFailure.None);
}

/// <summary>One <c>[auth.NAME]</c>: a way for a request to prove who sent it.</summary>
public interface IAuthenticator : IDisposable
{
    string Name { get; }

    /// <summary>This scheme's challenge in a 401's WWW-Authenticate field.</summary>
    string Challenge { get; }

    /// <summary>
    /// <see cref="AuthResult.Missing"/> when the request carries no credential of this kind. Completes
    /// synchronously, without allocating, when the answer is cached (the common case).
    /// </summary>
    ValueTask<AuthResult> AuthenticateAsync(Exchange exchange);
}
