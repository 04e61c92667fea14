using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Tls;

/// <summary>
/// An upstream's <c>tls</c>: the client side of TLS to its destinations. The server name (SNI, and the name the
/// certificate must carry) is the configured one, else the target's host. The certificate is verified against the
/// system's roots or a CA file, unless verification was turned off explicitly.
/// </summary>
public sealed class UpstreamTls(string? serverName, X509Certificate2Collection? trustedRoots, bool verify, X509Certificate2? clientCertificate)
{
    public string? ServerName { get; } = serverName;

    public bool Verify { get; } = verify;

    /// <summary>ALPN offers h2 alone: the upstream speaks HTTP/2 (<c>protocol = "h2"</c>).</summary>
    public bool OfferHttp2 { get; private init; }

    /// <summary>The same TLS, offering h2 by ALPN.</summary>
    public UpstreamTls ForHttp2() => new(ServerName, trustedRoots, Verify, clientCertificate) { OfferHttp2 = true };

    /// <summary>Handshakes on a connected transport; throws <see cref="AuthenticationException"/> (or an I/O error) when it fails.</summary>
    public async ValueTask<SslStreamConnection> ConnectAsync(ConnectionContext connection, string targetHost, CancellationToken cancellationToken) =>
        new(connection, await HandshakeAsync(new DuplexPipeStream(connection.Transport), targetHost, cancellationToken));

    /// <summary>Handshakes over <paramref name="inner"/> (an active health check's socket, or a connection's pipes).</summary>
    public async ValueTask<SslStream> HandshakeAsync(Stream inner, string targetHost, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(ClientOptions(targetHost), cancellationToken);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
    }

    /// <summary>The handshake's options: the upstream's server name, trust and client certificate.</summary>
    public SslClientAuthenticationOptions ClientOptions(string targetHost)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = ServerName ?? targetHost,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ApplicationProtocols = [OfferHttp2 ? SslApplicationProtocol.Http2 : SslApplicationProtocol.Http11],
            AllowRenegotiation = false,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
        };

        if (!Verify)
        {
            options.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (trustedRoots is not null)
        {
            options.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            options.CertificateChainPolicy.CustomTrustStore.AddRange(trustedRoots);
        }

        return options;
    }
}
