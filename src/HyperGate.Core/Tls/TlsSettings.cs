using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HyperGate.Tls;

/// <summary>
/// <c>[tls]</c>, loaded: the certificates, how a server name chooses one, and the options each handshake gets. TLS 1.2
/// and 1.3 only; for 1.2, forward-secret AEAD suites only; ALPN offers http/1.1; renegotiation off. SslStream never
/// accepts early data (0-RTT). Session resumption is not offered: the platform's server side makes an OpenSSL
/// context per connection, so no ticket or session ID outlives it (bench/RESULTS.md, TLS).
/// </summary>
public sealed class TlsSettings
{
    /// <summary>RFC 8446 §9.1 suites, then ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2 (RFC 9325 §4.2).</summary>
    private static readonly TlsCipherSuite[] CipherSuites =
    [
        TlsCipherSuite.TLS_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

    private readonly Dictionary<ServerCertificate, SslServerAuthenticationOptions> _options = [];

    public TlsSettings(IReadOnlyList<ServerCertificate> certificates, bool strictSni, TimeSpan handshakeTimeout,
        ClientCertificateMode clientAuth = ClientCertificateMode.None, X509Certificate2Collection? clientCa = null)
    {
        ClientAuth = clientAuth;
        if (clientAuth != ClientCertificateMode.None)
        {
            ClientChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            ClientChainPolicy.CustomTrustStore.AddRange(clientCa ?? []);
            ClientChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2"));  // id-kp-clientAuth
        }

        Certificates = certificates;
        StrictSni = strictSni;
        HandshakeTimeout = handshakeTimeout;
        Selector = new CertificateSelector(certificates, strictSni);
        CipherSuitesPolicy? policy = OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? new CipherSuitesPolicy(CipherSuites) : null;
        foreach (ServerCertificate certificate in certificates)
        {
            _options[certificate] = new SslServerAuthenticationOptions
            {
                ServerCertificateContext = certificate.Context,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                CipherSuitesPolicy = policy,
                ApplicationProtocols = [SslApplicationProtocol.Http11],
                AllowRenegotiation = false,
                // With client_auth the server asks for a certificate; whether one is needed, and verified, is decided
                // after the handshake (require) or per route (optional).
                ClientCertificateRequired = clientAuth != ClientCertificateMode.None,
                RemoteCertificateValidationCallback = clientAuth == ClientCertificateMode.None ? null : static (_, _, _, _) => true,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            };
        }
    }

    /// <summary><c>client_auth</c>: whether clients are asked for a certificate, and whether one is required.</summary>
    public ClientCertificateMode ClientAuth { get; }

    /// <summary>How a client certificate is verified: against <c>client_ca</c> only, for client authentication.</summary>
    public X509ChainPolicy? ClientChainPolicy { get; }

    /// <summary>
    /// Whether <paramref name="certificate"/> chains to a <c>client_ca</c> certificate; the chain's certificates
    /// between the leaf and the anchor are returned for Client-Cert-Chain.
    /// </summary>
    public bool VerifyClient(X509Certificate2 certificate, out X509Certificate2[] intermediates)
    {
        intermediates = [];
        if (ClientChainPolicy is null)
        {
            return false;
        }

        using var chain = new X509Chain { ChainPolicy = ClientChainPolicy.Clone() };
        if (!chain.Build(certificate))
        {
            return false;
        }

        intermediates = [.. chain.ChainElements.Skip(1).SkipLast(1).Select(element => element.Certificate)];
        return true;
    }

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

    /// <summary>The handshake options that present <paramref name="certificate"/>, one of <see cref="Certificates"/>.</summary>
    public SslServerAuthenticationOptions OptionsFor(ServerCertificate certificate) => _options[certificate];
}

/// <summary><c>[tls] client_auth</c>.</summary>
public enum ClientCertificateMode
{
    /// <summary>No certificate is asked for.</summary>
    None,

    /// <summary>Asked for; a connection without one (or with one that does not verify) is served, routes decide.</summary>
    Optional,

    /// <summary>A handshake without a certificate that verifies against <c>client_ca</c> fails.</summary>
    Require,
}
