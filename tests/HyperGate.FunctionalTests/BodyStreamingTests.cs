using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

public class BodyStreamingTests
{
    private const long HundredMegabytes = 100L * 1024 * 1024;

    [Fact]
    public async Task Upload100MB_ArrivesWhole_ChecksumMatches()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();

        using var content = new StreamContent(new PatternStream(HundredMegabytes));
        content.Headers.ContentLength = HundredMegabytes;
        using HttpResponseMessage response = await client.PostAsync("/upload", content);
        JsonElement result = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HundredMegabytes, result.GetProperty("length").GetInt64());
        Assert.Equal(ExpectedSha256(HundredMegabytes), result.GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task UploadChunked_IsForwardedChunked_ChecksumMatches()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();

        const long size = 5L * 1024 * 1024 + 17;
        using var content = new StreamContent(new PatternStream(size));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using HttpResponseMessage response = await client.SendAsync(request);
        JsonElement result = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(size, result.GetProperty("length").GetInt64());
        Assert.Equal(ExpectedSha256(size), result.GetProperty("sha256").GetString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Download100MB_StreamsWhole_ChecksumMatches(bool chunked)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await client.GetAsync($"/download?size={HundredMegabytes}&chunked={(chunked ? 1 : 0)}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(chunked, response.Headers.TransferEncodingChunked == true);
        await using Stream body = await response.Content.ReadAsStreamAsync();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            total += read;
        }

        Assert.Equal(HundredMegabytes, total);
        Assert.Equal(ExpectedSha256(HundredMegabytes), Convert.ToHexString(hash.GetHashAndReset()));
    }

    [Fact]
    public async Task ExpectContinue_InterimResponseIsRelayed_BeforeBodyIsSent()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        string interim = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 100 ", interim);

        await client.SendAsync("hello");
        RawResponse response = await client.ReadResponseAsync();
        Assert.Equal(200, response.Status);
        Assert.Equal(5, JsonDocument.Parse(response.Body).RootElement.GetProperty("length").GetInt64());
    }

    [Fact]
    public async Task ChunkedRequest_IsForwardedWithChunkedFramingOnly()
    {
        await using var upstream = new RawUpstream((_, _) => RawReply.Text("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);

        // The raw upstream reads heads only: this test checks the forwarded framing; the body is checked below.
        using RawClient client = gateway.ConnectRaw();
        await client.SendAsync("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n");
        RawResponse response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        string head = upstream.Heads[0];
        Assert.Contains("Transfer-Encoding: chunked\r\n", head);
        Assert.DoesNotContain("Content-Length", head);
    }

    [Fact]
    public async Task ChunkedRequestBody_IsDecodedAndReencoded_UpstreamReadsItWhole()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();
        await client.SendAsync("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
        RawResponse response = await client.ReadResponseAsync();
        JsonElement result = JsonDocument.Parse(response.Body).RootElement;
        Assert.Equal(11, result.GetProperty("length").GetInt64());
        Assert.Equal(Convert.ToHexString(SHA256.HashData("hello world"u8)), result.GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task ChunkedResponseWithTrailers_IsForwarded_AndHttp10ClientGetsItDechunked()
    {
        await using var upstream = new RawUpstream((_, _) => RawReply.Text(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-Checksum: 42\r\n\r\n"));
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);

        using (RawClient client = gateway.ConnectRaw())
        {
            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            string head = await client.ReadHeadAsync();
            Assert.Contains("Transfer-Encoding: chunked", head);
            byte[] rest = await ReadUntilAsync(client, "X-Checksum: 42\r\n\r\n");
            Assert.Equal("3\r\nabc\r\n2\r\nde\r\n0\r\nX-Checksum: 42\r\n\r\n", System.Text.Encoding.ASCII.GetString(rest));
        }

        using (RawClient client = gateway.ConnectRaw())
        {
            await client.SendAsync("GET / HTTP/1.0\r\n\r\n");
            RawResponse response = await client.ReadResponseAsync();
            Assert.Null(response.Header("Transfer-Encoding"));
            Assert.Equal("close", response.Header("Connection"));
            Assert.Equal("abcde", response.Body);
        }
    }

    [Fact]
    public async Task BodyLargerThanLimit_Is413_AndNeverReachesUpstream()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, limits: "[limits]\nmax_body_size = \"1KB\"");
        using (RawClient client = gateway.ConnectRaw())
        {
            await client.SendAsync("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n");
            RawResponse response = await client.ReadResponseAsync();
            Assert.Equal(413, response.Status);
            Assert.Equal("close", response.Header("Connection"));
        }

        Assert.Equal(0, upstream.RequestCount);

        // A chunked body is counted as it streams; the upload is cut and answered with 413.
        using (RawClient client = gateway.ConnectRaw())
        {
            await client.SendAsync("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + new string('x', 2048) + "\r\n");
            RawResponse response = await client.ReadResponseAsync();
            Assert.Equal(413, response.Status);
        }
    }

    private static async Task<byte[]> ReadUntilAsync(RawClient client, string terminator)
    {
        var received = new List<byte>();
        while (!System.Text.Encoding.ASCII.GetString(received.ToArray()).EndsWith(terminator, StringComparison.Ordinal))
        {
            received.AddRange(await client.ReadSomeAsync());
        }

        return [.. received];
    }

    private static string ExpectedSha256(long size)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        for (long offset = 0; offset < size;)
        {
            int count = (int)Math.Min(buffer.Length, size - offset);
            TestUpstream.Pattern(offset, buffer.AsSpan(0, count));
            hash.AppendData(buffer, 0, count);
            offset += count;
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>A read-only stream of the upstream's deterministic pattern, generated on the fly.</summary>
    private sealed class PatternStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int count = (int)Math.Min(buffer.Length, length - _position);
            TestUpstream.Pattern(_position, buffer[..count]);
            _position += count;
            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
