using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HyperGate.Tls;

/// <summary><c>client_auth</c>.</summary>
public enum ClientCertificateMode
{
    /// <summary>No certificate is asked for.</summary>
    None,

    /// <summary>Asked for; a connection without one (or with one that does not verify) is served, routes decide.</summary>
    Optional,

    /// <summary>A handshake without a certificate that verifies against <c>client_ca</c> fails.</summary>
    Require,
}

/// <summary>
/// <c>client_auth</c> with its <c>client_ca</c>, for every HTTPS name (in <c>[tls]</c>) or for one certificate's names
/// (on its entry): whether clients are asked for a certificate, whether one is required, and how it is verified.
/// </summary>
public sealed class ClientCertificatePolicy
{
    private readonly X509ChainPolicy? _chainPolicy;

    public ClientCertificatePolicy(ClientCertificateMode mode, X509Certificate2Collection? authorities)
    {
        Mode = mode;
        if (mode != ClientCertificateMode.None)
        {
            _chainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            _chainPolicy.CustomTrustStore.AddRange(authorities ?? []);
            _chainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2"));  // id-kp-clientAuth
        }
    }

    public static ClientCertificatePolicy None { get; } = new(ClientCertificateMode.None, null);

    public ClientCertificateMode Mode { get; }

    /// <summary>
    /// Whether <paramref name="certificate"/> chains to a <c>client_ca</c> certificate; the chain's certificates
    /// between the leaf and the anchor are returned for Client-Cert-Chain.
    /// </summary>
    public bool Verify(X509Certificate2 certificate, out X509Certificate2[] intermediates)
    {
        intermediates = [];
        if (_chainPolicy is null)
        {
            return false;
        }

        using var chain = new X509Chain { ChainPolicy = _chainPolicy.Clone() };
        if (!chain.Build(certificate))
        {
            return false;
        }

        intermediates = [.. chain.ChainElements.Skip(1).SkipLast(1).Select(element => element.Certificate)];
        return true;
    }
}
