using System.Net.Security;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Tls;

/// <summary>A client connection on an HTTPS listener, after its handshake: which certificate it got, for which name.</summary>
public sealed class TlsConnection : SslStreamConnection
{
    internal TlsConnection(ConnectionContext inner, SslStream ssl, ServerCertificate certificate, string serverName)
        : base(inner, ssl)
    {
        Certificate = certificate;
        ServerName = serverName;
    }

    /// <summary>The certificate the handshake presented.</summary>
    public ServerCertificate Certificate { get; }

    /// <summary>The client's server name (SNI), lowercase; empty when it sent none.</summary>
    public string ServerName { get; }
}
