using HyperGate.Forwarding;

namespace HyperGate.Security;

/// <summary>
/// <c>type = "client_cert"</c>: the connection's verified client certificate (mTLS, <c>[tls] client_auth</c>) proves a
/// consumer whose <c>client_cert</c> matches it. No certificate is a missing credential; a verified certificate that
/// no consumer claims is an invalid one.
/// </summary>
public sealed class ClientCertificateAuthenticator(string name, ConsumerDirectory consumers) : IAuthenticator
{
    public string Name { get; } = name;

    // RFC 9110 §11.6.1 needs a scheme in WWW-Authenticate; there is no registered one for TLS client certificates.
    public string Challenge => "ClientCertificate realm=\"hypergate\"";

    public ValueTask<AuthResult> AuthenticateAsync(Exchange exchange)
    {
        if (exchange.Tls is not { ClientCertificate: not null } tls)
        {
            return ValueTask.FromResult(AuthResult.Missing);
        }

        return ValueTask.FromResult(consumers.FindByCertificate(tls) is { } consumer ? AuthResult.Success(consumer.Identity) : AuthResult.Invalid);
    }

    public void Dispose()
    {
    }
}
