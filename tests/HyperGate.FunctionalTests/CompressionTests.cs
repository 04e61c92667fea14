using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>Response compression and request decompression through a real upstream.</summary>
public class CompressionTests
{
    private static readonly string Document = "{\"items\":[" + string.Join(",", Enumerable.Range(0, 200).Select(i => $"{{\"id\":{i},\"name\":\"item number {i}\"}}")) + "]}";

    private static async Task<TestGateway> StartAsync(TestUpstream upstream, string compress = "compress = true") => await TestGateway.StartAsync($$"""
        [upstreams.backend]
        targets = ["{{upstream.Address}}"]

        [routes.api]
        path_prefix = "/"
        upstream = "backend"
        {{compress}}
        """);

    /// <summary>POSTs the document to /echo-body, which answers with it (application/json, with its length).</summary>
    private static async Task<HttpResponseMessage> EchoAsync(HttpClient client, string? acceptEncoding, string body = "", HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Post, "/echo-body") { Content = new StringContent(body.Length > 0 ? body : Document, Encoding.UTF8, "application/json") };
        if (acceptEncoding is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        }

        return await client.SendAsync(request);
    }

    private static string Decode(byte[] body, string coding)
    {
        using Stream decoder = coding == "br" ? new BrotliStream(new MemoryStream(body), CompressionMode.Decompress) : new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
        using var reader = new StreamReader(decoder);
        return reader.ReadToEnd();
    }

    [Theory]
    [InlineData("gzip", "gzip")]
    [InlineData("gzip, br", "br")]
    [InlineData("br;q=0.4, gzip;q=0.8", "gzip")]
    public async Task Responses_AreCompressedWithTheBestAcceptedCoding_Chunked_WithVary(string accept, string coding)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream);
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await EchoAsync(client, accept);
        byte[] body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal([coding], response.Content.Headers.ContentEncoding);
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
        Assert.True(response.Headers.TransferEncodingChunked);
        Assert.True(body.Length < Document.Length / 2, $"{body.Length} bytes for {Document.Length}");
        Assert.Equal(Document, Decode(body, coding));
    }

    [Fact]
    public async Task AStrongETag_BecomesWeak_WhenTheBodyIsCompressed()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "compress = { min_size = 0 }");
        using HttpClient client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/json?json=" + Uri.EscapeDataString(Document[..500]));
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));

        using HttpResponseMessage response = await client.SendAsync(request);

        Assert.Equal(["gzip"], response.Content.Headers.ContentEncoding);
        Assert.Equal("W/\"v1\"", response.Headers.ETag!.ToString());
    }

    [Fact]
    public async Task ATransformedBody_IsCompressedToo()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "compress = true\nresponse_body = { remove = [\"/items/*/name\"] }");
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await EchoAsync(client, "gzip");

        Assert.Equal(["gzip"], response.Content.Headers.ContentEncoding);
        string expected = "{\"items\":[" + string.Join(",", Enumerable.Range(0, 200).Select(i => $"{{\"id\":{i}}}")) + "]}";
        Assert.Equal(expected, Decode(await response.Content.ReadAsByteArrayAsync(), "gzip"));
    }

    [Fact]
    public async Task WithoutAcceptEncoding_TheBodyIsAsSent_ButVaryIsSaid()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream);
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await EchoAsync(client, acceptEncoding: null);

        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
        Assert.Equal(Document, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task SmallBodies_OtherTypes_NoTransform_AndHead_AreNotCompressed()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "compress = { min_size = \"2KB\", types = [\"application/json\"] }");
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage small = await EchoAsync(client, "gzip", body: "{\"a\":1}");
        Assert.Empty(small.Content.Headers.ContentEncoding);

        using var text = new HttpRequestMessage(HttpMethod.Post, "/echo-body") { Content = new StringContent(Document, Encoding.UTF8, "text/plain") };
        text.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
        using HttpResponseMessage plain = await client.SendAsync(text);
        Assert.Empty(plain.Content.Headers.ContentEncoding);

        using var head = new HttpRequestMessage(HttpMethod.Head, "/json?json=" + Uri.EscapeDataString(Document[..1500]));
        head.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
        using HttpResponseMessage headResponse = await client.SendAsync(head);
        Assert.Empty(headResponse.Content.Headers.ContentEncoding);
    }

    [Fact]
    public async Task NoTransform_IsHonoured()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "compress = true\nresponse_headers = { set = { \"Cache-Control\" = \"no-transform\" } }");
        using RawClient client = gateway.ConnectRaw();

        // The transform is on the way out; no-transform must come from the upstream to count. /status answers text/plain.
        await client.SendAsync("GET /status/200 HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n");
        string head = await client.ReadHeadAsync();
        Assert.DoesNotContain("Content-Encoding", head);
    }

    [Fact]
    public async Task Http10Clients_GetTheBodyAsSent()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "compress = { min_size = 0 }");
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("GET /json?json=%7B%7D HTTP/1.0\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n");
        string head = await client.ReadHeadAsync();

        Assert.DoesNotContain("Content-Encoding", head);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    [InlineData("deflate")]
    public async Task CompressedRequestBodies_AreDecompressedBeforeForwarding(string coding)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "compress = { request = true }");
        using HttpClient client = gateway.CreateClient();
        var compressed = new MemoryStream();
        using (Stream encoder = coding switch
        {
            "br" => new BrotliStream(compressed, CompressionLevel.Fastest, leaveOpen: true),
            "deflate" => new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true),
            _ => new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true),
        })
        {
            encoder.Write(Encoding.UTF8.GetBytes(Document));
        }

        var content = new ByteArrayContent(compressed.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.ContentEncoding.Add(coding);
        using HttpResponseMessage response = await client.PostAsync("/echo-body", content);

        Assert.Equal(Document, await response.Content.ReadAsStringAsync());
        Assert.Equal(Document.Length.ToString(), Assert.Single(response.Headers.GetValues("X-Received-Length")));
    }

    [Fact]
    public async Task ACompressionBomb_Is413_AndNeverReachesTheUpstream()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "compress = { request = { max_size = \"1MB\", max_ratio = 50 } }");
        using HttpClient client = gateway.CreateClient();
        var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(new byte[512 * 1024]);
        }

        var content = new ByteArrayContent(compressed.ToArray());
        content.Headers.ContentEncoding.Add("gzip");
        using HttpResponseMessage bomb = await client.PostAsync("/echo-body", content);
        var invalid = new ByteArrayContent("not gzip at all"u8.ToArray());
        invalid.Headers.ContentEncoding.Add("gzip");
        using HttpResponseMessage garbage = await client.PostAsync("/echo-body", invalid);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, bomb.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        Assert.Contains("\"reason\":\"InvalidContentEncoding\"", await garbage.Content.ReadAsStringAsync());
        Assert.Equal(0, upstream.RequestCount);
    }
}
