using System.Net;
using System.Net.Security;
using System.Text;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>HTTP/2 at the edge (RFC 9113) with real clients: curl, nghttp and HttpClient, over TLS (ALPN h2) and h2c.</summary>
public sealed class Http2Tests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    private static string H2cConfig(string upstream, string http2 = "", string route = "") => $$"""
        [http2]
        h2c = true
        {{http2}}

        [upstreams.backend]
        targets = ["{{upstream}}"]

        [routes.all]
        path_prefix = "/"
        upstream = "backend"
        {{route}}
        """;

    private string TlsConfig(string upstream, out TestCertificate site)
    {
        site = _certificates.Create("h2", ["h2.test"]);
        return $$"""
            [server]
            listen_tls = ["127.0.0.1:0"]
            watch_config = false

            [tls]
            certificates = [{{site.Entry}}]

            [upstreams.backend]
            targets = ["{{upstream}}"]

            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            """;
    }

    [Fact]
    public async Task Curl_WithPriorKnowledge_IsProxiedOverH2c_AndTheUpstreamHearsHttp2InVia()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(H2cConfig(upstream.Address));

        (int exit, string output, string errors) = await TestTools.RunAsync(TestTools.Curl,
            "-s", "--http2-prior-knowledge", "-w", "\n%{http_version} %{http_code}", $"http://{gateway.EndPoint}/items/7?q=1");

        Assert.True(exit == 0, errors);
        string[] parts = output.Split('\n');
        Assert.Equal("2 200", parts[^1]);
        EchoResult echo = EchoResult.Parse(string.Join('\n', parts[..^1]));
        Assert.Equal("/items/7", echo.Path);
        Assert.Equal("?q=1", echo.Query);
        Assert.Equal("2 hypergate", echo.Headers["Via"]);
        Assert.Equal(gateway.EndPoint.ToString(), echo.Headers["Host"]);
    }

    [Fact]
    public async Task Curl_OverTls_NegotiatesH2ByAlpn_AndPostsABody()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(TlsConfig(upstream.Address, out _));

        (int exit, string output, string errors) = await TestTools.RunAsync(TestTools.Curl,
            "-sk", "--http2", "--resolve", $"h2.test:{gateway.EndPoint.Port}:127.0.0.1", "-d", "twelve bytes", "-w", "\n%{http_version}",
            $"https://h2.test:{gateway.EndPoint.Port}/form");

        Assert.True(exit == 0, errors);
        string[] parts = output.Split('\n');
        Assert.Equal("2", parts[^1]);
        EchoResult echo = EchoResult.Parse(string.Join('\n', parts[..^1]));
        Assert.Equal("POST", echo.Method);
        Assert.Equal(12, echo.BodyLength);
        Assert.Equal("https", echo.Headers["X-Forwarded-Proto"]);
    }

    [Fact]
    public async Task Nghttp_ManyConcurrentStreamsOnOneConnection_AreAllAnswered()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(H2cConfig(upstream.Address));

        // -m 20: the same request twenty times, all on one connection at once; -s prints per-stream statistics.
        (int exit, string output, string errors) = await TestTools.RunAsync(TestTools.Nghttp, "-n", "-s", "-m", "20", $"http://{gateway.EndPoint}/many");

        Assert.True(exit == 0, errors + output);
        Assert.Equal(20, output.Split('\n').Count(line => line.Contains("/many")));
        Assert.Equal(20, upstream.RequestCount);
    }

    [Fact]
    public async Task HttpClient_Http2OverTls_DownloadsAMegabyte_WithFlowControl()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(TlsConfig(upstream.Address, out TestCertificate site));
        using var client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = { TargetHost = "h2.test", RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == site.Thumbprint },
        })
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        foreach (string chunked in new[] { "0", "1" })
        {
            using HttpResponseMessage response = await client.GetAsync($"https://{gateway.EndPoint}/download?size=1048576&chunked={chunked}");
            byte[] body = await response.Content.ReadAsByteArrayAsync();

            Assert.Equal(HttpVersion.Version20, response.Version);
            Assert.Equal(1_048_576, body.Length);
            byte[] expected = new byte[body.Length];
            TestUpstream.Pattern(0, expected);
            Assert.True(expected.AsSpan().SequenceEqual(body));
        }
    }

    [Fact]
    public async Task HttpClient_H2c_UploadsABodyWithoutALength_ChunkedUpstream()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(H2cConfig(upstream.Address));
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false })
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        byte[] payload = new byte[3_000_000];
        TestUpstream.Pattern(0, payload);

        // A stream with no length: HttpClient sends DATA frames without content-length, more than every window.
        using var content = new StreamContent(new NoLengthStream(payload));
        using HttpResponseMessage response = await client.PostAsync($"http://{gateway.EndPoint}/upload", content);
        string json = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Contains("\"length\":3000000", json);
        Assert.Contains(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(payload)), json);
    }

    [Fact]
    public async Task SplitCookieFields_ReachTheUpstreamJoined()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(H2cConfig(upstream.Address));
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);

        await client.SendHeadersAsync(1, H2Client.Request("/cookies", "GET", ("cookie", "a=1"), ("accept", "*/*"), ("cookie", "b=2")), endStream: true);
        H2Response response = await client.ReadResponseAsync(1);

        Assert.Equal(200, response.Status);
        Assert.Equal("a=1; b=2", EchoResult.Parse(response.Text).Headers["Cookie"]);
    }

    [Fact]
    public async Task ChunkedTrailersFromTheUpstream_BecomeATrailingHeadersFrame()
    {
        await using var upstream = new RawUpstream((_, _) => RawReply.Text(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n5\r\nhello\r\n0\r\nx-checksum: abc123\r\n\r\n"));
        await using TestGateway gateway = await TestGateway.StartAsync(H2cConfig(upstream.Address));
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);

        await client.SendHeadersAsync(1, H2Client.Request("/t"), endStream: true);
        H2Response response = await client.ReadResponseAsync(1);

        Assert.Equal("hello", response.Text);
        Assert.False(response.Headers.ContainsKey("transfer-encoding"));
        Assert.Equal("abc123", response.Trailers?["x-checksum"]);
    }

    [Fact]
    public async Task HeadAndNoContentResponses_EndTheStreamOnTheirHeaders()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(H2cConfig(upstream.Address));
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);

        await client.SendHeadersAsync(1, H2Client.Request("/download?size=100", "HEAD"), endStream: true);
        H2Frame head = await client.ExpectAsync(f => f.Stream == 1 && f.Type == H2Frame.Headers, "the HEAD response");
        Assert.Equal(H2Frame.EndStream, head.Flags & H2Frame.EndStream);

        await client.SendHeadersAsync(3, H2Client.Request("/status/204"), endStream: true);
        H2Frame noContent = await client.ExpectAsync(f => f.Stream == 3 && f.Type == H2Frame.Headers, "the 204 response");
        Assert.Equal(H2Frame.EndStream, noContent.Flags & H2Frame.EndStream);
    }

    [Fact]
    public async Task TheGatewaysOwnAnswers_GoOutAsHttp2Responses()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(H2cConfig(upstream.Address, route: "methods = [\"GET\"]"));
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);

        await client.SendHeadersAsync(1, H2Client.Request("/x", "DELETE"), endStream: true);
        H2Response response = await client.ReadResponseAsync(1);

        Assert.Equal(405, response.Status);
        Assert.Equal("GET", response.Headers["allow"]);
        Assert.Contains("\"method_not_allowed\"", response.Text);
        Assert.False(response.Headers.ContainsKey("connection"));
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task WithoutH2c_APlainConnectionStartingWithThePreface_IsNotHttp2()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient raw = gateway.ConnectRaw();

        await raw.SendAsync(Encoding.Latin1.GetString(H2Client.Preface));
        RawResponse response = await raw.ReadResponseAsync();

        Assert.Equal(505, response.Status);
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task UpgradeToH2c_StaysHttp11()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(H2cConfig(upstream.Address));

        // curl --http2 on http:// asks for "Upgrade: h2c"; the gateway answers in HTTP/1.1.
        (int exit, string output, string errors) = await TestTools.RunAsync(TestTools.Curl, "-s", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", $"http://{gateway.EndPoint}/up");

        Assert.True(exit == 0, errors);
        Assert.Equal("1.1 200", output);
    }

    [Fact]
    public async Task Alpn_OffersHttp11Only_WhenHttp2IsDisabled()
    {
        TestCertificate site = _certificates.Create("h1only", ["h1.test"]);
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [server]
            listen_tls = ["127.0.0.1:0"]
            watch_config = false
            [http2]
            enabled = false
            [tls]
            certificates = [{{site.Entry}}]
            [routes.hello]
            path = "/hello"
            respond = { status = 200, body = "hello" }
            """);

        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(gateway.EndPoint);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "h1.test",
            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });

        Assert.Equal(SslApplicationProtocol.Http11, tls.NegotiatedApplicationProtocol);
    }

    [Fact]
    public async Task AccessLog_NamesTheProtocol()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        string log = Path.GetTempFileName();
        try
        {
            await using (TestGateway gateway = await TestGateway.StartAsync(H2cConfig(upstream.Address) + $"\n[access_log]\npath = \"{log}\"\n"))
            {
                await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);
                await client.SendHeadersAsync(1, H2Client.Request("/logged"), endStream: true);
                await client.ReadResponseAsync(1);
            }

            string line = File.ReadAllLines(log).Single(l => l.Contains("/logged"));
            Assert.Contains("\"protocol\":\"HTTP/2\"", line);
        }
        finally
        {
            File.Delete(log);
        }
    }

    /// <summary>A stream whose length is unknown, so that the client sends no content-length.</summary>
    private sealed class NoLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();
    }
}
