using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace HyperGate.Tls;

/// <summary>
/// A connection after a TLS handshake, either side: the gateway reads and writes plaintext through pipes over the
/// <see cref="SslStream"/>, which reads and writes records through the transport connection underneath.
/// </summary>
public class SslStreamConnection : ConnectionContext, IDuplexPipe
{
    private readonly ConnectionContext _inner;
    private readonly SslStream _ssl;

    internal SslStreamConnection(ConnectionContext inner, SslStream ssl)
    {
        _inner = inner;
        _ssl = ssl;
        Input = PipeReader.Create(ssl, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4096, leaveOpen: true));
        Output = PipeWriter.Create(ssl, new StreamPipeWriterOptions(minimumBufferSize: 4096, leaveOpen: true));

        // Named once per connection, for every access-log line of its requests.
        ProtocolName = ssl.SslProtocol switch
        {
            SslProtocols.Tls13 => "TLSv1.3",
            SslProtocols.Tls12 => "TLSv1.2",
            SslProtocols other => other.ToString(),
        };
        CipherName = ssl.NegotiatedCipherSuite.ToString();
    }

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
