using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>
/// An OCSP responder on 127.0.0.1 (RFC 6960 Appendix A.1, requests by GET) answering for the certificates an
/// authority issued: each request is answered by OpenSSL's own responder logic (<c>openssl ocsp -reqin</c>), from an
/// index (the CA database format) that lists them as good, signed with the authority's key. Counts the requests.
/// </summary>
public sealed class OcspResponder : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly TestCertificate _authority;
    private readonly string _index;
    private readonly Task _serving;
    private int _requests;

    private OcspResponder(TestCertificate authority, string index)
    {
        _authority = authority;
        _index = index;
        _listener.Start();
        _serving = ServeAsync();
    }

    public string Url => $"http://{_listener.LocalEndpoint}/";

    public int RequestCount => Volatile.Read(ref _requests);

    /// <summary>Starts a responder for <paramref name="authority"/>; the certificates it will call good are given by <see cref="Vouch"/>.</summary>
    public static OcspResponder Start(TestCertificate authority) =>
        new(authority, Path.Combine(Path.GetDirectoryName(authority.CertPath)!, $"ocsp-index-{Guid.NewGuid():N}.txt"));

    /// <summary>Lists <paramref name="certificate"/> as good (status V in the index).</summary>
    public void Vouch(TestCertificate certificate) => File.AppendAllText(_index,
        $"V\t{certificate.Certificate.NotAfter.ToUniversalTime().ToString("yyMMddHHmmss", CultureInfo.InvariantCulture)}Z\t\t{certificate.Certificate.SerialNumber}\tunknown\t/{certificate.Certificate.Subject.Replace(", ", "/")}\n");

    private async Task ServeAsync()
    {
        try
        {
            while (true)
            {
                using TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
                NetworkStream stream = client.GetStream();
                using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
                string requestLine = await reader.ReadLineAsync(_stop.Token) ?? "";
                while (await reader.ReadLineAsync(_stop.Token) is { Length: > 0 })
                {
                }

                Interlocked.Increment(ref _requests);
                byte[] body = await AnswerAsync(requestLine.Split(' ')[1].TrimStart('/'));
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), _stop.Token);
                await stream.WriteAsync(body, _stop.Token);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>The DER OCSP response to the URL-encoded base64 DER request.</summary>
    private async Task<byte[]> AnswerAsync(string encodedRequest)
    {
        string request = Path.GetTempFileName(), response = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(request, Convert.FromBase64String(Uri.UnescapeDataString(encodedRequest)));
            using Process openssl = Process.Start(new ProcessStartInfo("openssl",
                ["ocsp", "-index", _index, "-CA", _authority.CertPath, "-rsigner", _authority.CertPath, "-rkey", _authority.KeyPath, "-reqin", request, "-respout", response])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            await openssl.WaitForExitAsync(_stop.Token);
            return await File.ReadAllBytesAsync(response);
        }
        finally
        {
            File.Delete(request);
            File.Delete(response);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _serving;
        _stop.Dispose();
    }
}
