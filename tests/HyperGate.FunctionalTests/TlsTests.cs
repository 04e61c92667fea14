using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;
using static HyperGate.FunctionalTests.Infrastructure.PrometheusText;

namespace HyperGate.FunctionalTests;

/// <summary>TLS termination on listen_tls addresses, with real handshakes against certificates the test makes.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    private static string Config(string tls, string upstream = "", string server = "watch_config = false") => $$"""
        [server]
        listen_tls = ["127.0.0.1:0"]
        {{server}}
        [admin]
        listen = "127.0.0.1:0"
        [tls]
        {{tls}}
        {{(upstream.Length > 0 ? $"[upstreams.backend]\ntargets = [\"{upstream}\"]\n[routes.all]\npath_prefix = \"/\"\nupstream = \"backend\"" : "[routes.hello]\npath = \"/hello\"\nrespond = { status = 200, body = \"hello\" }")}}
        """;

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task Https_ServesKeepAliveRequests_OverTls12And13_WithAlpnHttp11(SslProtocols protocol)
    {
        TestCertificate site = _certificates.Create("site", ["api.test"]);
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{site.Entry}]"));

        await using SslStream tls = await HandshakeAsync(gateway, "api.test", protocol);
        Assert.Equal(protocol, tls.SslProtocol);
        Assert.Equal(SslApplicationProtocol.Http11, tls.NegotiatedApplicationProtocol);
        Assert.Equal(site.Thumbprint, tls.RemoteCertificate!.GetCertHashString());

        // Two requests on the one connection: the plaintext side is an ordinary keep-alive HTTP/1.1 connection.
        for (int i = 0; i < 2; i++)
        {
            string response = await ExchangeAsync(tls, "GET /hello HTTP/1.1\r\nHost: api.test\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200 ", response);
            Assert.EndsWith("\r\n\r\nhello", response);
        }
    }

    [Fact]
    public async Task Https_WithHttpClientAndAnRsaCertificate_IsProxied_AndTheUpstreamHearsItWasHttps()
    {
        TestCertificate site = _certificates.Create("rsa", ["rsa.test"], rsa: true);
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{site.Entry}]", upstream.Address));
        using var client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = { TargetHost = "rsa.test", RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == site.Thumbprint },
        });

        EchoResult echo = EchoResult.Parse(await client.GetStringAsync($"https://{gateway.EndPoint}/echo"));

        Assert.Equal("/echo", echo.Path);
        Assert.Equal("https", echo.Headers["X-Forwarded-Proto"]);
    }

    [Theory]
    [InlineData("www.api.test", "exact")]      // an exact name beats the wildcard that also covers it
    [InlineData("x.api.test", "wildcard")]
    [InlineData("a.b.api.test", "default")]    // a wildcard covers one label only
    [InlineData("api.test", "default")]        // nor the bare domain
    [InlineData("WWW.API.TEST", "exact")]      // names compare without case
    [InlineData("unknown.test", "default")]
    [InlineData("", "default")]                // no SNI at all
    public async Task Sni_ChoosesExactBeforeWildcard_ElseTheFirstCertificate(string serverName, string expected)
    {
        var certificates = new Dictionary<string, TestCertificate>
        {
            ["default"] = _certificates.Create("default", ["default.test"]),
            ["wildcard"] = _certificates.Create("wildcard", ["*.api.test"]),
            ["exact"] = _certificates.Create("exact", ["www.api.test"]),
        };
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"certificates = [{certificates["default"].Entry}, {certificates["wildcard"].Entry}, {certificates["exact"].Entry}]"));

        await using SslStream tls = await HandshakeAsync(gateway, serverName);

        Assert.Equal(certificates[expected].Thumbprint, tls.RemoteCertificate!.GetCertHashString());
    }

    [Theory]
    [InlineData("b.test", 421)]           // served by the other certificate: domain fronting
    [InlineData("b.test:443", 421)]
    [InlineData("a.test", 200)]
    [InlineData("A.TEST:8443", 200)]
    [InlineData("x.a.test", 200)]         // the presented certificate's wildcard covers it
    [InlineData("c.test", 200)]           // no certificate serves it: not misdirected
    [InlineData("127.0.0.1", 200)]
    [InlineData("[::1]:443", 200)]
    public async Task AHostThatAnotherCertificateServes_Is421_OthersAreServed(string host, int status)
    {
        TestCertificate a = _certificates.Create("a", ["a.test", "*.a.test"]);
        TestCertificate b = _certificates.Create("b", ["b.test"]);
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{a.Entry}, {b.Entry}]"));

        await using SslStream tls = await HandshakeAsync(gateway, "a.test");
        string response = await ExchangeAsync(tls, $"GET /hello HTTP/1.1\r\nHost: {host}\r\n\r\n");

        Assert.StartsWith($"HTTP/1.1 {status} ", response);
        if (status == 421)
        {
            // RFC 9110 §15.5.20: the client may retry on another connection; this one still serves the right host.
            Assert.Contains("\"reason\":\"MisdirectedRequest\"", response);
            Assert.StartsWith("HTTP/1.1 200 ", await ExchangeAsync(tls, "GET /hello HTTP/1.1\r\nHost: a.test\r\n\r\n"));
        }
    }

    [Fact]
    public async Task RedirectHttp_AnswersThePlainSideWith308ToTheSameUrlOnHttps_AndHstsGoesOnHttpsResponsesOnly()
    {
        TestCertificate site = _certificates.Create("site", ["api.test"]);
        int httpsPort = TestPorts.Free();
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [server]
            listen = ["127.0.0.1:0"]
            listen_tls = ["127.0.0.1:{{httpsPort}}"]
            [tls]
            certificates = [{{site.Entry}}]
            redirect_http = true
            hsts = { max_age = "1d", include_subdomains = true }
            [routes.hello]
            path = "/hello"
            respond = { status = 200, body = "hello" }
            """);
        using RawClient plain = gateway.ConnectRaw();

        await plain.SendAsync("GET /hello/../a%2fb?x=1&y HTTP/1.1\r\nHost: api.test:8080\r\n\r\n");
        RawResponse redirect = await plain.ReadResponseAsync();
        await plain.SendAsync("GET http://[::1]:8080/p HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
        RawResponse ipv6 = await plain.ReadResponseAsync();

        Assert.Equal(308, redirect.Status);
        Assert.Equal($"https://api.test:{httpsPort}/hello/../a%2fb?x=1&y", redirect.Header("Location"));
        Assert.Null(redirect.Header("Strict-Transport-Security"));
        Assert.Equal($"https://[::1]:{httpsPort}/p", ipv6.Header("Location"));

        await using SslStream tls = await HandshakeAsync(gateway, "api.test", endPoint: new IPEndPoint(IPAddress.Loopback, httpsPort));
        string response = await ExchangeAsync(tls, "GET /hello HTTP/1.1\r\nHost: api.test\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", response);
        Assert.Contains("\r\nStrict-Transport-Security: max-age=86400; includeSubDomains\r\n", response);
    }

    [Fact]
    public async Task Explain_SaysWhichCertificateAnHttpsUrlsHostGets()
    {
        TestCertificate exact = _certificates.Create("exact", ["www.api.test"]);
        TestCertificate wildcard = _certificates.Create("wildcard", ["*.api.test"]);
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{exact.Entry}, {wildcard.Entry}]"));
        HyperGate.Hosting.GatewaySnapshot snapshot = gateway.Host.Runtime.Snapshot;

        string? Tls(string url) => HyperGate.Routing.RouteExplainer.Explain(snapshot, "GET", new Uri(url), []).Tls;

        Assert.StartsWith($"certificate for *.api.test ({wildcard.CertPath}", Tls("https://x.api.test/hello"));
        Assert.StartsWith($"no certificate names other.test: the first one serves it, www.api.test ({exact.CertPath}", Tls("https://other.test/hello"));
        Assert.Null(Tls("http://x.api.test/hello"));
    }

    [Fact]
    public async Task StrictSni_AnUnknownName_FailsTheHandshake_AndIsCounted()
    {
        TestCertificate site = _certificates.Create("site", ["api.test"]);
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{site.Entry}]\nstrict_sni = true"));

        await RefusedHandshakeAsync(gateway, "other.test");
        await using SslStream known = await HandshakeAsync(gateway, "api.test");
        // A response means the gateway finished its side of the handshake, and counts before it serves.
        Assert.StartsWith("HTTP/1.1 200 ", await ExchangeAsync(known, "GET /hello HTTP/1.1\r\nHost: api.test\r\n\r\n"));

        string metrics = await gateway.CreateAdminClient().GetStringAsync("/metrics");
        Assert.Equal(1, Value(metrics, "hypergate_tls_handshakes_total", ("result", "unknown_server_name")));
        Assert.Equal(1, Value(metrics, "hypergate_tls_handshakes_total", ("result", "succeeded")));
    }

    [Fact]
    public async Task PlainHttpOnATlsPort_Is400InClearText_ThenClosed()
    {
        TestCertificate site = _certificates.Create("site", ["api.test"]);
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{site.Entry}]"));
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("GET /hello HTTP/1.1\r\nHost: api.test\r\n\r\n");
        RawResponse response = await client.ReadResponseAsync();

        Assert.Equal(400, response.Status);
        Assert.Equal("PlainHttpOnTlsPort", JsonDocument.Parse(response.Body).RootElement.GetProperty("reason").GetString());
        Assert.True(await client.IsClosedAsync());
    }

    [Fact]
    public async Task AGarbageFirstByte_AndAHandshakeCutShort_EndTheConnection_AndAreCountedByReason()
    {
        TestCertificate site = _certificates.Create("site", ["api.test"]);
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{site.Entry}]"));

        // Not a handshake record (RFC 8446 §5.1: content type 22) and not plain HTTP either.
        using (RawClient garbage = gateway.ConnectRaw())
        {
            await garbage.SendAsync(new byte[] { 0x00, 0xff, 0x13, 0x37 });
            Assert.True(await garbage.IsClosedAsync());
        }

        // The start of a ClientHello record, then the client's end of the stream.
        using (var truncated = new TcpClient())
        {
            await truncated.ConnectAsync(gateway.EndPoint);
            NetworkStream stream = truncated.GetStream();
            await stream.WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x00, 0x80, 0x01, 0x00 });
            truncated.Client.Shutdown(SocketShutdown.Send);
            Assert.Equal(0, await stream.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(15)));
        }

        string metrics = await gateway.CreateAdminClient().GetStringAsync("/metrics");
        Assert.Equal(1, Value(metrics, "hypergate_tls_handshakes_total", ("result", "not_tls")));
        Assert.Equal(1, Value(metrics, "hypergate_tls_handshakes_total", ("result", "client_closed")));
    }

    [Fact]
    public async Task AHandshakeThatDoesNotFinish_IsClosedAtTheHandshakeTimeout()
    {
        TestCertificate site = _certificates.Create("site", ["api.test"]);
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{site.Entry}]\nhandshake_timeout = \"500ms\""));
        using RawClient client = gateway.ConnectRaw();
        var clock = Stopwatch.StartNew();

        // The start of a ClientHello record (RFC 8446 §5.1), then nothing.
        await client.SendAsync(new byte[] { 0x16, 0x03, 0x01, 0x00, 0x80 });

        Assert.True(await client.IsClosedAsync());
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(450), $"closed after {clock.Elapsed}");
        string metrics = await gateway.CreateAdminClient().GetStringAsync("/metrics");
        Assert.Equal(1, Value(metrics, "hypergate_tls_handshakes_total", ("result", "timeout")));
    }

    [Fact]
    public async Task Tls11_IsRefusedWithAProtocolVersionAlert()
    {
        TestCertificate site = _certificates.Create("site", ["api.test"]);
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{site.Entry}]"));

        // OpenSSL's client offers TLS 1.1 when asked; the alert (RFC 8446 §6.2 protocol_version) comes from the gateway.
        (int exitCode, string output) = await OpenSslClient.RunAsync(gateway.EndPoint, "", "-tls1_1", "-servername", "api.test");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("alert protocol version", output);
    }

    [Fact]
    public async Task Sessions_Resume_Tls12ByIdOrTicket_Tls13ByTicket()
    {
        TestCertificate site = _certificates.Create("site", ["api.test"]);
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{site.Entry}]"));

        // TLS 1.2: the first connection is a full handshake, the five reconnections resume its session.
        (_, string tls12) = await OpenSslClient.RunAsync(gateway.EndPoint, "", "-tls1_2", "-reconnect", "-servername", "api.test");
        Assert.Contains("New, TLSv1.2", tls12);
        Assert.Equal(5, tls12.Split("Reused, TLSv1.2").Length - 1);

        // TLS 1.3 (RFC 8446 §2.2): the ticket sent after the first handshake resumes the second connection.
        string session = Path.Combine(_certificates.Directory, "session.pem");
        const string request = "GET /hello HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n";
        (_, string first) = await OpenSslClient.RunAsync(gateway.EndPoint, request, "-tls1_3", "-ign_eof", "-sess_out", session, "-servername", "api.test");
        (_, string resumed) = await OpenSslClient.RunAsync(gateway.EndPoint, request, "-tls1_3", "-ign_eof", "-sess_in", session, "-servername", "api.test");
        Assert.Contains("New, TLSv1.3", first);
        Assert.Contains("Reused, TLSv1.3", resumed);
        Assert.Contains("hello", resumed);
    }

    /// <summary>A site certificate issued by a test authority, naming the authority's OCSP responder, which calls it good.</summary>
    private (OcspResponder Responder, TestCertificate Site) SiteWithOcspResponder()
    {
        TestCertificate authority = _certificates.CreateAuthority("ca");
        OcspResponder responder = OcspResponder.Start(authority);
        TestCertificate site = _certificates.CreateIssued("site", ["api.test"], authority, responder.Url);
        responder.Vouch(site);
        return (responder, site);
    }

    [Fact]
    public async Task OcspStapling_TheResponderNamedInTheCertificate_IsAskedAndItsAnswerStapled()
    {
        (OcspResponder responder, TestCertificate site) = SiteWithOcspResponder();
        await using OcspResponder stopped = responder;
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{site.Entry}]"));

        // The platform fetches the response in the background (RFC 6066 §8: the server staples it when it has one),
        // so the first handshakes may come before it arrived.
        string output = "";
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (!output.Contains("OCSP Response Status: successful", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            (_, output) = await OpenSslClient.RunAsync(gateway.EndPoint, "", "-status", "-servername", "api.test");
        }

        Assert.Contains("OCSP Response Status: successful", output);
        Assert.Contains("Cert Status: good", output);
        Assert.Equal(1, responder.RequestCount);
    }

    [Fact]
    public async Task OcspStapling_Off_NeverAsksTheResponder()
    {
        (OcspResponder responder, TestCertificate site) = SiteWithOcspResponder();
        await using OcspResponder stopped = responder;
        await using TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{site.Entry}]\nocsp_stapling = false"));

        for (int i = 0; i < 3; i++)
        {
            (int exitCode, string output) = await OpenSslClient.RunAsync(gateway.EndPoint, "", "-status", "-servername", "api.test");
            Assert.Equal(0, exitCode);
            Assert.Contains("OCSP response: no response sent", output);
        }

        Assert.Equal(0, responder.RequestCount);
    }

    [Fact]
    public async Task RenewedCertificateFiles_AreWatched_NewHandshakesGetTheNewPair_OpenConnectionsKeepServing()
    {
        TestCertificate first = _certificates.Create("site", ["api.test"]);
        string path = Path.Combine(_certificates.Directory, "gateway.toml");
        File.WriteAllText(path, Config($"certificates = [{first.Entry}]", server: "watch_config = true"));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);
        await using SslStream open = await HandshakeAsync(gateway, "api.test");
        var reloaded = new TaskCompletionSource<HyperGate.Hosting.ReloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        gateway.Host.Reloader.Reloaded += result =>
        {
            // The certificate and the key are two writes: a reload between them is refused, the one after applies.
            if (result.Applied)
            {
                reloaded.TrySetResult(result);
            }
        };

        // Renewal as certbot and friends do it: new files under the same names; the config file is untouched.
        TestCertificate second = _certificates.Create("site", ["api.test"]);
        HyperGate.Hosting.ReloadResult result = await reloaded.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(result.Applied);
        Assert.Empty(result.Notes);
        await using SslStream renewed = await HandshakeAsync(gateway, "api.test");
        Assert.Equal(second.Thumbprint, renewed.RemoteCertificate!.GetCertHashString());
        Assert.Equal(first.Thumbprint, open.RemoteCertificate!.GetCertHashString());
        Assert.EndsWith("hello", await ExchangeAsync(open, "GET /hello HTTP/1.1\r\nHost: api.test\r\n\r\n"));
    }

    [Fact]
    public async Task RenewingUnderLoad_FailsNoRequest_NewConnectionsMoveToTheNewCertificate()
    {
        TestCertificate first = _certificates.Create("site", ["api.test"]);
        string path = Path.Combine(_certificates.Directory, "gateway.toml");
        File.WriteAllText(path, Config($"certificates = [{first.Entry}]"));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        int served = 0;
        var halfway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Four clients: two keep their connection, two open a new one (a handshake) for every request. The renewal
        // comes a third of the way in, when the handshaking clients have most of their requests left.
        async Task ClientAsync(bool keepAlive)
        {
            using var client = new HttpClient(new SocketsHttpHandler
            {
                UseProxy = false,
                SslOptions =
                {
                    TargetHost = "api.test",
                    RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    {
                        seen.AddOrUpdate(certificate!.GetCertHashString(), 1, (_, n) => n + 1);
                        return true;
                    },
                },
            });
            for (int i = 0; i < 150 && failures.IsEmpty; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"https://{gateway.EndPoint}/hello");
                request.Headers.ConnectionClose = !keepAlive;
                try
                {
                    using HttpResponseMessage response = await client.SendAsync(request);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        failures.Enqueue($"status {response.StatusCode}");
                    }
                }
                catch (HttpRequestException e)
                {
                    failures.Enqueue(e.Message);
                }

                if (Interlocked.Increment(ref served) == 200)
                {
                    halfway.TrySetResult();
                }
            }
        }

        Task load = Task.WhenAll(ClientAsync(true), ClientAsync(true), ClientAsync(false), ClientAsync(false));
        await halfway.Task.WaitAsync(TimeSpan.FromSeconds(60));
        TestCertificate second = _certificates.Create("site", ["api.test"]);
        HttpResponseMessage reload = await gateway.CreateAdminClient().PostAsync("/reload", null);
        await load.WaitAsync(TimeSpan.FromSeconds(120));

        Assert.Equal(HttpStatusCode.OK, reload.StatusCode);
        Assert.Empty(failures);
        Assert.True(seen.ContainsKey(first.Thumbprint));
        Assert.True(seen.ContainsKey(second.Thumbprint));
    }

    [Fact]
    public async Task ARenewalThatDoesNotLoad_IsRefused_AndTheRunningCertificateKeepsServing()
    {
        TestCertificate site = _certificates.Create("site", ["api.test"]);
        string path = Path.Combine(_certificates.Directory, "gateway.toml");
        File.WriteAllText(path, Config($"certificates = [{site.Entry}]"));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);

        File.WriteAllText(site.KeyPath, "not a key");
        HttpResponseMessage refused = await gateway.CreateAdminClient().PostAsync("/reload", null);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("is not a PEM private key", await refused.Content.ReadAsStringAsync());
        await using SslStream tls = await HandshakeAsync(gateway, "api.test");
        Assert.Equal(site.Thumbprint, tls.RemoteCertificate!.GetCertHashString());
    }

    [Fact]
    public async Task Observability_AccessLogNamesVersionAndCipher_StatusListsCertificates_MetricsTheirExpiry()
    {
        TestCertificate site = _certificates.Create("site", ["api.test", "*.api.test"], notAfter: DateTimeOffset.UtcNow.AddDays(10));
        string log = Path.Combine(_certificates.Directory, "access.log");
        TestGateway gateway = await TestGateway.StartAsync(Config($"certificates = [{site.Entry}]") + $"\n[access_log]\npath = \"{log}\"\n");
        await using (gateway)
        {
            await using SslStream tls = await HandshakeAsync(gateway, "api.test", SslProtocols.Tls13);
            Assert.StartsWith("HTTP/1.1 200 ", await ExchangeAsync(tls, "GET /hello HTTP/1.1\r\nHost: api.test\r\n\r\n"));

            using HttpClient admin = gateway.CreateAdminClient();
            JsonElement status = JsonDocument.Parse(await admin.GetStringAsync("/status")).RootElement;
            Assert.Equal($"https://{gateway.EndPoint}", status.GetProperty("listeners")[0].GetString());
            JsonElement certificate = status.GetProperty("certificates")[0];
            Assert.Equal(["api.test", "*.api.test"], certificate.GetProperty("names").EnumerateArray().Select(n => n.GetString()));
            Assert.InRange(certificate.GetProperty("expires_in_days").GetDouble(), 9.9, 10.0);

            double expiry = Value(await admin.GetStringAsync("/metrics"), "hypergate_tls_certificate_expiry_seconds", ("name", "api.test"));
            Assert.InRange(expiry, TimeSpan.FromDays(10).TotalSeconds - 600, TimeSpan.FromDays(10).TotalSeconds);
        }

        // Stopping the gateway drains the log writer's queue.
        JsonElement line = JsonDocument.Parse(Assert.Single(await File.ReadAllLinesAsync(log))).RootElement;
        Assert.Equal("TLSv1.3", line.GetProperty("tls").GetString());
        Assert.StartsWith("TLS_AES_", line.GetProperty("cipher").GetString());
    }

    [Fact]
    public async Task ASelfSignedEntry_ServesItsNames_AndKeepsItsCertificateAcrossReloads()
    {
        string path = Path.Combine(_certificates.Directory, "gateway.toml");
        File.WriteAllText(path, Config("certificates = [{ self_signed = [\"self.test\", \"127.0.0.1\"] }]"));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);

        await using SslStream first = await HandshakeAsync(gateway, "self.test");
        var certificate = new System.Security.Cryptography.X509Certificates.X509Certificate2(first.RemoteCertificate!);
        var names = certificate.Extensions.OfType<System.Security.Cryptography.X509Certificates.X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["self.test"], names.EnumerateDnsNames());
        Assert.Equal([IPAddress.Loopback], names.EnumerateIPAddresses());

        HttpResponseMessage reload = await gateway.CreateAdminClient().PostAsync("/reload", null);
        Assert.Contains("the file is unchanged", await reload.Content.ReadAsStringAsync());
        await using SslStream second = await HandshakeAsync(gateway, "self.test");
        Assert.Equal(certificate.Thumbprint, second.RemoteCertificate!.GetCertHashString());
    }

    [Fact]
    public void Config_BadCertificates_AreEachRefusedAtTheLineThatNamesThem()
    {
        TestCertificate good = _certificates.Create("good", ["good.test"]);
        TestCertificate other = _certificates.Create("other", ["other.test"]);
        TestCertificate expired = _certificates.Create("expired", ["old.test"], notBefore: DateTimeOffset.UtcNow.AddDays(-30), notAfter: DateTimeOffset.UtcNow.AddDays(-1));
        string missing = Path.Combine(_certificates.Directory, "missing.pem");
        string toml = $$"""
            [server]
            listen_tls = ["127.0.0.1:0"]
            [tls]
            certificates = [
              {{good.Entry}},
              { cert = "{{good.CertPath}}", key = "{{other.KeyPath}}" },
              {{expired.Entry}},
              { cert = "{{missing}}", key = "{{good.KeyPath}}" },
              { cert = "{{good.KeyPath}}", key = "{{good.KeyPath}}" },
            ]
            [routes.hello]
            path = "/hello"
            respond = { status = 200 }
            """;

        var refused = Assert.Throws<HyperGate.Configuration.ConfigException>(() => HyperGate.Configuration.ConfigLoader.Parse(toml, "tls.toml"));

        Assert.Collection(refused.Errors,
            e => Assert.Equal((6, "does not belong to the certificate"), (e.Location.Line, Fragment(e.Message, "does not belong to the certificate"))),
            e => Assert.Equal((7, "expired on"), (e.Location.Line, Fragment(e.Message, "expired on"))),
            e => Assert.Equal((8, "no such file"), (e.Location.Line, Fragment(e.Message, "no such file"))),
            e => Assert.Equal((9, "holds no PEM certificate"), (e.Location.Line, Fragment(e.Message, "holds no PEM certificate"))));
    }

    [Fact]
    public void Config_AnHttpsListenerWithoutCertificates_IsRefused()
    {
        var refused = Assert.Throws<HyperGate.Configuration.ConfigException>(() => HyperGate.Configuration.ConfigLoader.Parse("""
            [server]
            listen_tls = ["127.0.0.1:0"]
            [routes.hello]
            path = "/hello"
            respond = { status = 200 }
            """, "tls.toml"));

        ConfigErrorLine error = new(Assert.Single(refused.Errors).ToString());
        Assert.Equal("tls.toml:2:15: server.listen_tls: an HTTPS listener needs a certificate", error.WithoutHint);
    }

    /// <summary>The fragment when the message contains it, else the whole message (so a failure shows it).</summary>
    private static string Fragment(string message, string fragment) => message.Contains(fragment, StringComparison.Ordinal) ? fragment : message;

    private sealed record ConfigErrorLine(string Text)
    {
        public string WithoutHint => Text[..Text.IndexOf(" (hint: ", StringComparison.Ordinal)];
    }

    private static async Task<SslStream> HandshakeAsync(TestGateway gateway, string serverName, SslProtocols protocols = SslProtocols.None, IPEndPoint? endPoint = null)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(endPoint ?? gateway.EndPoint);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = serverName,
                EnabledSslProtocols = protocols,
                ApplicationProtocols = [SslApplicationProtocol.Http11],
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            });
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    /// <summary>Asserts the handshake fails, then waits for the gateway to close the connection: it counts a failure before it closes.</summary>
    private static async Task RefusedHandshakeAsync(TestGateway gateway, string serverName)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(gateway.EndPoint);
        await using (var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: true))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = serverName,
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            }));
        }

        var buffer = new byte[1024];
        try
        {
            while (await tcp.GetStream().ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(15)) > 0)
            {
            }
        }
        catch (IOException)
        {
            // A reset is a close too.
        }
    }

    /// <summary>Sends a request and reads one response whose body has a Content-Length.</summary>
    private static async Task<string> ExchangeAsync(SslStream tls, string request)
    {
        await tls.WriteAsync(Encoding.ASCII.GetBytes(request));
        var received = new StringBuilder();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            string text = received.ToString();
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                string lengthLine = text[..end].Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                int length = int.Parse(lengthLine["Content-Length:".Length..].Trim());
                if (text.Length >= end + 4 + length)
                {
                    return text[..(end + 4 + length)];
                }
            }

            int read = await tls.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(15));
            Assert.True(read > 0, "the gateway closed the connection");
            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
    }
}
