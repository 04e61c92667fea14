using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace HyperGate.Tls;

/// <summary>
/// A client connection after its TLS handshake: the request loop reads and writes plaintext through pipes over the
/// <see cref="SslStream"/>, which reads and writes records through the transport connection underneath.
/// </summary>
public sealed class TlsConnection : ConnectionContext, IDuplexPipe
{
    private readonly ConnectionContext _inner;
    private readonly SslStream _ssl;

    internal TlsConnection(ConnectionContext inner, SslStream ssl, ServerCertificate certificate, string serverName)
    {
        _inner = inner;
        _ssl = ssl;
        Certificate = certificate;
        ServerName = serverName;

        // Named once per connection, for every access-log line of its requests.
        ProtocolName = ssl.SslProtocol switch
        {
            SslProtocols.Tls13 => "TLSv1.3",
            SslProtocols.Tls12 => "TLSv1.2",
            SslProtocols other => other.ToString(),
        };
        CipherName = ssl.NegotiatedCipherSuite.ToString();

        // Plaintext buffers from the same pool as the transport's; the writer flushes each write as records.
        Input = PipeReader.Create(ssl, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4096, leaveOpen: true));
        Output = PipeWriter.Create(ssl, new StreamPipeWriterOptions(minimumBufferSize: 4096, leaveOpen: true));
    }

    /// <summary>The certificate the handshake presented.</summary>
    public ServerCertificate Certificate { get; }

    /// <summary>The client's server name (SNI), lowercase; empty when it sent none.</summary>
    public string ServerName { get; }

    /// <summary>"TLSv1.3" or "TLSv1.2".</summary>
    public string ProtocolName { get; }

    /// <summary>The IANA name of the negotiated cipher suite.</summary>
    public string CipherName { get; }

    public SslApplicationProtocol ApplicationProtocol => _ssl.NegotiatedApplicationProtocol;

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    public override IDuplexPipe Transport
    {
        get => this;
        set => throw new NotSupportedException();
    }

    public override string ConnectionId
    {
        get => _inner.ConnectionId;
        set => _inner.ConnectionId = value;
    }

    public override IFeatureCollection Features => _inner.Features;

    public override IDictionary<object, object?> Items
    {
        get => _inner.Items;
        set => _inner.Items = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _inner.RemoteEndPoint;
        set => _inner.RemoteEndPoint = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => _inner.LocalEndPoint;
        set => _inner.LocalEndPoint = value;
    }

    public override CancellationToken ConnectionClosed
    {
        get => _inner.ConnectionClosed;
        set => _inner.ConnectionClosed = value;
    }

    public override void Abort(ConnectionAbortedException abortReason) => _inner.Abort(abortReason);

    public override void Abort() => _inner.Abort();

    public override async ValueTask DisposeAsync()
    {
        await Input.CompleteAsync();
        await Output.CompleteAsync();
        await _ssl.DisposeAsync();
        await _inner.DisposeAsync();
    }
}
