using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Tls;

/// <summary>A client connection on an HTTPS listener, after its handshake: which certificate it got, for which name.</summary>
public sealed class TlsConnection : SslStreamConnection
{
    internal TlsConnection(ConnectionContext inner, SslStream ssl, ServerCertificate certificate, string serverName,
        X509Certificate2? clientCertificate = null, X509Certificate2[]? clientChain = null)
        : base(inner, ssl)
    {
        Certificate = certificate;
        ServerName = serverName;
        ClientCertificate = clientCertificate;
        if (clientCertificate is not null)
        {
            ClientSubject = clientCertificate.Subject;
            ClientSha256 = clientCertificate.GetCertHashString(HashAlgorithmName.SHA256).ToLowerInvariant();
            ClientNames = [.. clientCertificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(san => san.EnumerateDnsNames())];
            ClientCertificateFields = ClientCertFields(clientCertificate, clientChain ?? []);
        }
    }

    /// <summary>The certificate the handshake presented.</summary>
    public ServerCertificate Certificate { get; }

    /// <summary>The client's server name (SNI), lowercase; empty when it sent none.</summary>
    public string ServerName { get; }

    /// <summary>The client's certificate, when it presented one that verified against <c>client_ca</c>.</summary>
    public X509Certificate2? ClientCertificate { get; }

    /// <summary>The verified client certificate's subject, for the access log and consumer matching.</summary>
    public string? ClientSubject { get; }

    /// <summary>Its SHA-256 fingerprint, lowercase hex.</summary>
    public string? ClientSha256 { get; }

    /// <summary>Its DNS subject alternative names.</summary>
    public string[] ClientNames { get; } = [];

    /// <summary>
    /// RFC 9440 §2: Client-Cert, the DER certificate as a structured-field byte sequence (":base64:"), and
    /// Client-Cert-Chain, the certificates between it and the trust anchor; built once per connection.
    /// </summary>
    public byte[]? ClientCertificateFields { get; }

    private static byte[] ClientCertFields(X509Certificate2 certificate, X509Certificate2[] chain)
    {
        var fields = new StringBuilder("Client-Cert: :").Append(Convert.ToBase64String(certificate.RawData)).Append(":\r\n");
        if (chain.Length > 0)
        {
            fields.Append("Client-Cert-Chain: ").AppendJoin(", ", chain.Select(c => $":{Convert.ToBase64String(c.RawData)}:")).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes(fields.ToString());
    }
}
