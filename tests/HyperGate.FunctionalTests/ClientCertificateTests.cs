using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;
using static HyperGate.FunctionalTests.Infrastructure.PrometheusText;

namespace HyperGate.FunctionalTests;

/// <summary>Client certificates (mTLS) on HTTPS listeners: asked for, verified against client_ca, and used by routes.</summary>
public sealed class ClientCertificateTests : IDisposable
{
    private readonly TestCertificates _certificates = new();
    private readonly TestCertificate _site;
    private readonly TestCertificate _authority;

    public ClientCertificateTests()
    {
        _site = _certificates.Create("site", ["api.test"]);
        _authority = _certificates.CreateAuthority("clients-ca");
    }

    public void Dispose() => _certificates.Dispose();

    private string Config(string mode, string upstream) => $$"""
        [server]
        listen_tls = ["127.0.0.1:0"]
        watch_config = false
        [admin]
        listen = "127.0.0.1:0"
        [tls]
        certificates = [{{_site.Entry}}]
        client_auth = "{{mode}}"
        client_ca = "{{_authority.CertPath}}"
        [upstreams.backend]
        targets = ["{{upstream}}"]
        [routes.open]
        path_prefix = "/open"
        upstream = "backend"
        [routes.partners]
        path_prefix = "/partners"
        upstream = "backend"
        require_client_cert = true
        forward_client_cert = true
        """;

    [Fact]
    public async Task Optional_RoutesThatRequireACertificate_Are403WithoutOne_OthersServe_AndTheVerifiedOneIsForwarded()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(Config("optional", upstream.Address));
        X509Certificate2 partner = TestCertificates.CreateClient("CN=partner-7, O=Partners", _authority);

        // Without a certificate: the open route serves, the partners route answers 403 in JSON.
        using HttpClient anonymous = Client(gateway, null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/open/x")).StatusCode);
        HttpResponseMessage refused = await anonymous.GetAsync("/partners/x");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("ClientCertificateRequired", JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("reason").GetString());

        // With one: served, and the upstream gets it in Client-Cert (RFC 9440), not the client's own copy.
        using HttpClient withCertificate = Client(gateway, partner);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/partners/x") { Headers = { { "Client-Cert", ":Zm9yZ2Vk:" } } };
        HttpResponseMessage served = await withCertificate.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        EchoResult echo = EchoResult.Parse(await served.Content.ReadAsStringAsync());
        Assert.Equal($":{Convert.ToBase64String(partner.RawData)}:", echo.Headers["Client-Cert"]);
    }

    [Fact]
    public async Task Optional_ACertificateFromAnotherAuthority_IsNoCertificate()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(Config("optional", upstream.Address));
        TestCertificate stranger = _certificates.CreateAuthority("stranger-ca");
        using HttpClient client = Client(gateway, TestCertificates.CreateClient("CN=stranger", stranger));

        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/partners/x")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/open/x")).StatusCode);
    }

    [Fact]
    public async Task ClientCopiesOfClientCert_NeverReachTheUpstream()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(Config("optional", upstream.Address));
        using HttpClient client = Client(gateway, null);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/open/x") { Headers = { { "Client-Cert", ":Zm9yZ2Vk:" }, { "Client-Cert-Chain", ":Zm9yZ2Vk:" } } };

        EchoResult echo = EchoResult.Parse(await (await client.SendAsync(request)).Content.ReadAsStringAsync());

        Assert.False(echo.Headers.ContainsKey("Client-Cert"));
        Assert.False(echo.Headers.ContainsKey("Client-Cert-Chain"));
    }

    [Fact]
    public async Task Require_AHandshakeWithoutAVerifiedCertificate_EndsTheConnection_AndIsCounted()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(Config("require", upstream.Address));

        // TLS 1.3 (RFC 8446 §4.4.2.4): the client learns of the refusal when the server closes instead of answering.
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(gateway.EndPoint);
            await using var tls = new SslStream(tcp.GetStream());
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "api.test", RemoteCertificateValidationCallback = (_, _, _, _) => true });
            await tls.WriteAsync("GET /open/x HTTP/1.1\r\nHost: api.test\r\n\r\n"u8.ToArray());
            int read;
            try
            {
                read = await tls.ReadAsync(new byte[256]).AsTask().WaitAsync(TimeSpan.FromSeconds(15));
            }
            catch (IOException)
            {
                read = 0;
            }

            Assert.Equal(0, read);
        }

        using HttpClient partner = Client(gateway, TestCertificates.CreateClient("CN=partner-7", _authority));
        Assert.Equal(HttpStatusCode.OK, (await partner.GetAsync("/open/x")).StatusCode);

        string metrics = await gateway.CreateAdminClient().GetStringAsync("/metrics");
        Assert.Equal(1, Value(metrics, "hypergate_tls_handshakes_total", ("result", "client_certificate_refused")));
        Assert.Equal(1, upstream.RequestCount);
    }

    [Fact]
    public async Task AListenersOwnClientAuth_GovernsItsHandshakes_WhileTheOtherListenerFollowsTls()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        int publicPort = TestPorts.Free(), partnersPort = TestPorts.Free();
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [server]
            listen_tls = ["127.0.0.1:{{publicPort}}", { address = "127.0.0.1:{{partnersPort}}", client_auth = "require", client_ca = "{{_authority.CertPath}}" }]
            watch_config = false
            [tls]
            certificates = [{{_site.Entry}}]
            [upstreams.backend]
            targets = ["{{upstream.Address}}"]
            [routes.open]
            path_prefix = "/open"
            upstream = "backend"
            """);
        var publicListener = new IPEndPoint(IPAddress.Loopback, publicPort);
        var partnersListener = new IPEndPoint(IPAddress.Loopback, partnersPort);
        X509Certificate2 partner = TestCertificates.CreateClient("CN=partner-7", _authority);

        // The public address asks for no certificate; the partners address refuses a handshake without one.
        using HttpClient anonymousOnPublic = Client(publicListener, null), anonymousOnPartners = Client(partnersListener, null), partnerOnPartners = Client(partnersListener, partner);
        Assert.Equal(HttpStatusCode.OK, (await anonymousOnPublic.GetAsync("/open/x")).StatusCode);
        await Assert.ThrowsAsync<HttpRequestException>(() => anonymousOnPartners.GetAsync("/open/x"));
        Assert.Equal(HttpStatusCode.OK, (await partnerOnPartners.GetAsync("/open/x")).StatusCode);
        Assert.Equal(2, upstream.RequestCount);
    }

    [Fact]
    public async Task AClientCertAuthenticator_ProvesTheConsumerItsCertificateMatches()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        X509Certificate2 bySubject = TestCertificates.CreateClient("CN=partner-7, O=Partners", _authority);
        X509Certificate2 byFingerprint = TestCertificates.CreateClient("CN=robot", _authority);
        X509Certificate2 unknown = TestCertificates.CreateClient("CN=nobody", _authority);
        await using TestGateway gateway = await TestGateway.StartAsync(Config("optional", upstream.Address) + $$"""

            [consumers.partner]
            client_cert = { subject = "CN=partner-7, O=Partners" }
            [consumers.robot]
            client_cert = [{ sha256 = "{{byFingerprint.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256)}}" }]
            [auth.mtls]
            type = "client_cert"
            [identity]
            consumer_header = "x-consumer-id"
            [routes.members]
            path_prefix = "/members"
            upstream = "backend"
            auth = ["mtls"]
            """);

        async Task<(HttpStatusCode Status, string? Consumer)> AskAsync(X509Certificate2? certificate)
        {
            using HttpClient client = Client(gateway, certificate);
            HttpResponseMessage response = await client.GetAsync("/members/x");
            return response.StatusCode == HttpStatusCode.OK
                ? (response.StatusCode, EchoResult.Parse(await response.Content.ReadAsStringAsync()).Headers["x-consumer-id"])
                : (response.StatusCode, null);
        }

        Assert.Equal((HttpStatusCode.OK, "partner"), await AskAsync(bySubject));
        Assert.Equal((HttpStatusCode.OK, "robot"), await AskAsync(byFingerprint));
        Assert.Equal(HttpStatusCode.Unauthorized, (await AskAsync(unknown)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await AskAsync(null)).Status);
    }

    [Fact]
    public async Task ClientAuthOnOneCertificateEntry_AppliesToTheNamesItServes_Only()
    {
        TestCertificate partners = _certificates.Create("partners", ["partners.test"]);
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [server]
            listen_tls = ["127.0.0.1:0"]
            watch_config = false
            [tls]
            certificates = [
              {{_site.Entry}},
              { cert = "{{partners.CertPath}}", key = "{{partners.KeyPath}}", client_auth = "require", client_ca = "{{_authority.CertPath}}" },
            ]
            [upstreams.backend]
            targets = ["{{upstream.Address}}"]
            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            """);

        // api.test asks for no certificate; partners.test requires one.
        Assert.StartsWith("HTTP/1.1 200 ", await StatusLineAsync(gateway, "api.test", null));
        Assert.StartsWith("HTTP/1.1 200 ", await StatusLineAsync(gateway, "partners.test", TestCertificates.CreateClient("CN=partner-7", _authority)));
        Assert.Equal("", await StatusLineAsync(gateway, "partners.test", null));
    }

    /// <summary>One request on a new connection for <paramref name="serverName"/> (SNI); the status line, or "" when the gateway closed.</summary>
    private static async Task<string> StatusLineAsync(TestGateway gateway, string serverName, X509Certificate2? certificate)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(gateway.EndPoint);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
            ClientCertificates = certificate is null ? null : [certificate],
        });
        await tls.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"GET /x HTTP/1.1\r\nHost: {serverName}\r\nConnection: close\r\n\r\n"));
        using var reader = new StreamReader(tls);
        try
        {
            return await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(15)) ?? "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    private HttpClient Client(TestGateway gateway, X509Certificate2? certificate) => Client(gateway.EndPoint, certificate);

    private HttpClient Client(IPEndPoint endPoint, X509Certificate2? certificate) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        SslOptions =
        {
            TargetHost = "api.test",
            RemoteCertificateValidationCallback = (_, server, _, _) => server?.GetCertHashString() == _site.Thumbprint,
            ClientCertificates = certificate is null ? null : [certificate],
        },
    })
    {
        BaseAddress = new Uri($"https://{endPoint}"),
        Timeout = TimeSpan.FromSeconds(30),
    };
}
