using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using HyperGate.Configuration;

namespace HyperGate.Tls;

/// <summary>
/// <c>[tls]</c>, loaded: the certificates, how a server name chooses one, and the options each handshake gets. TLS 1.2
/// and 1.3 only; for 1.2, forward-secret AEAD suites only (<see cref="OpenSslDefaults"/>); ALPN offers h2 (unless [http2] is disabled) and http/1.1;
/// renegotiation off. SslStream never accepts early data (0-RTT). Sessions resume (tickets and session IDs): the
/// platform keeps one OpenSSL context per certificate, since no handshake sets its own cipher list.
/// </summary>
public sealed class TlsSettings
{
    private readonly Dictionary<(ServerCertificate, ClientCertificatePolicy), SslServerAuthenticationOptions> _options = [];
    private readonly Dictionary<ServerCertificate, ClientCertificatePolicy> _clientAuthentication = [];
    private readonly Dictionary<IPEndPoint, ClientCertificatePolicy> _listenerClientAuthentication = [];
    private readonly List<SslApplicationProtocol> _applicationProtocols;

    /// <param name="clientAuthentication">Each certificate's client certificate policy (mTLS); none when absent.</param>
    /// <param name="listeners">The <c>listen_tls</c> addresses; one with its own <c>client_auth</c> overrides the certificates' on its handshakes.</param>
    public TlsSettings(IReadOnlyList<ServerCertificate> certificates, bool strictSni, TimeSpan handshakeTimeout,
        IReadOnlyDictionary<ServerCertificate, ClientCertificatePolicy>? clientAuthentication = null, IEnumerable<ListenAddress>? listeners = null, bool offerHttp2 = false)
    {
        _applicationProtocols = offerHttp2 ? [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11] : [SslApplicationProtocol.Http11];
        Certificates = certificates;
        StrictSni = strictSni;
        HandshakeTimeout = handshakeTimeout;
        Selector = new CertificateSelector(certificates, strictSni);
        foreach (ListenAddress listener in listeners ?? [])
        {
            if (listener.ClientAuth is { } policy)
            {
                _listenerClientAuthentication[listener.EndPoint] = policy;
            }
        }

        foreach (ServerCertificate certificate in certificates)
        {
            ClientCertificatePolicy clientPolicy = clientAuthentication?.GetValueOrDefault(certificate) ?? ClientCertificatePolicy.None;
            _clientAuthentication[certificate] = clientPolicy;
            foreach (ClientCertificatePolicy policy in _listenerClientAuthentication.Values.Append(clientPolicy).Distinct())
            {
                _options[(certificate, policy)] = Options(certificate, policy.Mode);
            }
        }
    }

    private SslServerAuthenticationOptions Options(ServerCertificate certificate, ClientCertificateMode clientAuth) => new()
    {
        ServerCertificateContext = certificate.Context,
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        ApplicationProtocols = _applicationProtocols,
        AllowRenegotiation = false,
        // With client_auth the server asks for a certificate; whether one is needed, and verified, is decided
        // after the handshake (require) or per route (optional).
        ClientCertificateRequired = clientAuth != ClientCertificateMode.None,
        RemoteCertificateValidationCallback = clientAuth == ClientCertificateMode.None ? null : static (_, _, _, _) => true,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    };

    /// <summary>
    /// Client certificates (mTLS) for a handshake on <paramref name="listener"/> that presents <paramref name="certificate"/>:
    /// the listener's own <c>client_auth</c> where it has one, else the certificate's (or <c>[tls]</c>'s).
    /// </summary>
    public ClientCertificatePolicy ClientAuthenticationFor(ServerCertificate certificate, IPEndPoint listener) =>
        _listenerClientAuthentication.GetValueOrDefault(listener) ?? _clientAuthentication[certificate];

    /// <summary>No TLS configured.</summary>
    public static TlsSettings None { get; } = new([], false, TimeSpan.FromSeconds(10));

    public IReadOnlyList<ServerCertificate> Certificates { get; }

    public bool StrictSni { get; }

    /// <summary>A handshake must finish within this from the connection's arrival (the TLS form of the head timeout).</summary>
    public TimeSpan HandshakeTimeout { get; }

    public CertificateSelector Selector { get; }

    /// <summary><c>redirect_http</c>: plain listeners answer every request with a 308 to the same URL on https.</summary>
    public bool RedirectHttp { get; init; }

    /// <summary>The port redirects name (omitted from the URL when 443).</summary>
    public int HttpsPort { get; init; } = 443;

    /// <summary>The whole <c>Strict-Transport-Security</c> field line added to HTTPS responses (RFC 6797 §6.1); null for none.</summary>
    public byte[]? StrictTransportSecurity { get; init; }

    /// <summary>The handshake options that present <paramref name="certificate"/>, one of <see cref="Certificates"/>, on <paramref name="listener"/>.</summary>
    public SslServerAuthenticationOptions OptionsFor(ServerCertificate certificate, IPEndPoint listener) => _options[(certificate, ClientAuthenticationFor(certificate, listener))];
}
