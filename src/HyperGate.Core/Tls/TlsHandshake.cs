using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Tls;

/// <summary>How a server handshake ended; counted as <c>hypergate_tls_handshakes_total{result}</c>.</summary>
public enum TlsHandshakeResult
{
    Succeeded,

    /// <summary>Not finished within <c>[tls] handshake_timeout</c>.</summary>
    Timeout,

    /// <summary>A plain HTTP request on a TLS port: answered with a 400 in clear text.</summary>
    PlainHttp,

    /// <summary>The first byte is not a TLS handshake record (RFC 8446 §5.1: content type 22).</summary>
    NotTls,

    /// <summary>The client closed or reset before the handshake finished.</summary>
    ClientClosed,

    /// <summary>No certificate serves the client's server name and <c>strict_sni</c> is on.</summary>
    UnknownServerName,

    /// <summary><c>client_auth = "require"</c>, and no client certificate that verifies against <c>client_ca</c>.</summary>
    ClientCertificateRefused,

    /// <summary>No protocol version or cipher suite in common, a malformed handshake, or an alert from the client.</summary>
    Failed,
}

/// <summary>The server side of a TLS handshake on an accepted connection, before the request loop sees it.</summary>
public static class TlsHandshake
{
    /// <summary>RFC 8446 §5.1: ContentType handshake(22), the first byte of every ClientHello record.</summary>
    private const byte HandshakeRecord = 0x16;

    private static readonly byte[] PlainHttpAnswer = Encoding.ASCII.GetBytes(PlainHttpResponse());

    /// <summary>
    /// Completes the handshake within the settings' timeout, choosing the certificate by SNI. Returns the connection to
    /// serve, or null with the reason (the caller closes <paramref name="connection"/>).
    /// </summary>
    public static async ValueTask<(TlsConnection? Connection, TlsHandshakeResult Result)> AcceptAsync(
        ConnectionContext connection, TlsSettings settings, IPEndPoint listener, TimeProvider time)
    {
        using var deadline = new CancellationTokenSource(settings.HandshakeTimeout, time);
        PipeReader input = connection.Transport.Input;
        try
        {
            // The first byte tells a TLS client from a plain HTTP one; nothing is consumed, SslStream reads it again.
            ReadResult first = await input.ReadAsync(deadline.Token);
            if (first.Buffer.IsEmpty)
            {
                input.AdvanceTo(first.Buffer.Start);
                return (null, TlsHandshakeResult.ClientClosed);
            }

            byte firstByte = first.Buffer.FirstSpan[0];
            input.AdvanceTo(first.Buffer.Start);
            if (firstByte != HandshakeRecord)
            {
                if (firstByte is >= (byte)'A' and <= (byte)'Z')
                {
                    // As nginx does: a readable answer to the browser or curl that forgot https://.
                    await connection.Transport.Output.WriteAsync(PlainHttpAnswer, deadline.Token);
                    return (null, TlsHandshakeResult.PlainHttp);
                }

                return (null, TlsHandshakeResult.NotTls);
            }

            var ssl = new SslStream(new DuplexPipeStream(connection.Transport), leaveInnerStreamOpen: false);
            var state = new HandshakeState(settings, listener);
            try
            {
                await ssl.AuthenticateAsServerAsync(ChooseOptions, state, deadline.Token);
            }
            catch
            {
                await ssl.DisposeAsync();
                throw;
            }

            // RFC 8446 §4.4.2.4: a server that requires a certificate the client did not give (or that does not verify)
            // ends the connection; in optional mode the connection is served and routes decide.
            X509Certificate2? clientCertificate = null;
            X509Certificate2[] intermediates = [];
            ClientCertificatePolicy clientAuthentication = settings.ClientAuthenticationFor(state.Certificate!, listener);
            if (clientAuthentication.Mode != ClientCertificateMode.None && ssl.RemoteCertificate is { } presented)
            {
                var candidate = new X509Certificate2(presented);
                clientCertificate = clientAuthentication.Verify(candidate, out intermediates) ? candidate : null;
            }

            if (clientAuthentication.Mode == ClientCertificateMode.Require && clientCertificate is null)
            {
                await ssl.DisposeAsync();
                return (null, TlsHandshakeResult.ClientCertificateRefused);
            }

            return (new TlsConnection(connection, ssl, state.Certificate!, state.ServerName, clientCertificate, intermediates), TlsHandshakeResult.Succeeded);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return (null, TlsHandshakeResult.Timeout);
        }
        catch (UnknownServerNameException)
        {
            return (null, TlsHandshakeResult.UnknownServerName);
        }
        catch (Exception e) when (e is IOException or ConnectionAbortedException)
        {
            // SslStream reports a stream that ended mid-handshake as an IOException.
            return (null, TlsHandshakeResult.ClientClosed);
        }
        catch (AuthenticationException)
        {
            return (null, TlsHandshakeResult.Failed);
        }
    }

    private static ValueTask<SslServerAuthenticationOptions> ChooseOptions(SslStream stream, SslClientHelloInfo hello, object? state, CancellationToken cancellationToken)
    {
        var handshake = (HandshakeState)state!;
        handshake.ServerName = hello.ServerName?.ToLowerInvariant() ?? string.Empty;
        handshake.Certificate = handshake.Settings.Selector.Select(handshake.ServerName);
        if (handshake.Certificate is null)
        {
            throw new UnknownServerNameException(handshake.ServerName);
        }

        return ValueTask.FromResult(handshake.Settings.OptionsFor(handshake.Certificate, handshake.Listener));
    }

    private static string PlainHttpResponse()
    {
        const string body = "{\"status\":400,\"error\":\"plain_http_on_tls_port\",\"reason\":\"PlainHttpOnTlsPort\",\"message\":\"This port speaks HTTPS: use https://.\"}";
        return $"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}";
    }

    private sealed class HandshakeState(TlsSettings settings, IPEndPoint listener)
    {
        public TlsSettings Settings { get; } = settings;

        /// <summary>The configured <c>listen_tls</c> address the connection came in on.</summary>
        public IPEndPoint Listener { get; } = listener;

        public string ServerName { get; set; } = string.Empty;

        public ServerCertificate? Certificate { get; set; }
    }

    /// <summary>Thrown from the options callback to fail a handshake whose server name no certificate serves.</summary>
    private sealed class UnknownServerNameException(string serverName) : AuthenticationException($"no certificate serves \"{serverName}\"");
}
