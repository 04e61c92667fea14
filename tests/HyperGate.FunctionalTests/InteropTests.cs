using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>
/// Valid requests that strict parsers are tempted to refuse, sent as client libraries send them, and the invalid
/// ones that must be refused at once; each asserts what the upstream saw.
/// </summary>
public class InteropTests
{
    [Fact]
    public async Task EmptyLinesBeforeRequestLines_AreIgnored_OnANewAndAKeptAliveConnection()
    {
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a request line.
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("\r\nGET /first HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);

        // A stray CRLF after a body, then a pipelined pair each preceded by empty lines.
        await client.SendAsync("POST /second HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok\r\n" +
            "\r\n\r\nGET /third HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);

        Assert.Equal(["/first", "/second", "/third"], upstream.Paths);
        Assert.Equal([0L, 2L, 0L], upstream.BodyLengths);
    }

    [Fact]
    public async Task TooManyEmptyLines_Are400()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync(string.Concat(Enumerable.Repeat("\r\n", 9)) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n");

        Assert.Equal(400, (await client.ReadResponseAsync()).Status);
        Assert.True(await client.IsClosedAsync());
        Assert.Equal(0, upstream.RequestCount);
    }

    [Theory]
    [InlineData("[::1]:8080")]
    [InlineData("[2001:db8::7]")]
    [InlineData("[::ffff:192.0.2.1]:80")]
    public async Task AbsoluteFormWithIpv6Literal_IsProxied(string authority)
    {
        // RFC 9112 §3.2.2: the authority of an absolute-form target may be any authority a Host field may carry.
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync($"GET http://{authority}/x?y=1 HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        RawResponse response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        EchoResult echo = EchoResult.Parse(response.Body);
        Assert.Equal("/x", echo.Path);
        Assert.Equal("?y=1", echo.Query);
        Assert.Equal(authority, echo.Headers["Host"]);
    }

    [Theory]
    [InlineData(",chunked")]
    [InlineData("chunked, ")]
    [InlineData(" , ,chunked,,")]
    public async Task TransferEncodingWithEmptyListElements_IsChunked(string value)
    {
        // RFC 9110 §5.6.1: empty list elements are ignored.
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync($"POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {value}\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" +
            "GET /after HTTP/1.1\r\nHost: a\r\n\r\n");

        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
        Assert.Equal(["/chunked", "/after"], upstream.Paths);
        Assert.Equal(11, upstream.BodyLengths.First());
    }

    [Fact]
    public async Task UnsupportedTransferCoding_Is501NamingIt_AndNeverReachesUpstream()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        RawResponse response = await client.ReadResponseAsync();

        Assert.Equal(501, response.Status);
        JsonElement body = JsonDocument.Parse(response.Body).RootElement;
        Assert.Equal("UnsupportedTransferEncoding", body.GetProperty("reason").GetString());
        Assert.Contains("'br'", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.True(await client.IsClosedAsync());
        Assert.Equal(0, upstream.RequestCount);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\rabc")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\rX-Next")]
    [InlineData("GET /\rx")]
    public async Task BareCarriageReturn_Is400AsItArrives_NotAtTheHeadTimeout(string head)
    {
        // The head is never finished and the connection stays open: the 400 must come from the bare CR alone
        // (the head timeout, 60 s here, is longer than the client waits for an answer).
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, limits: "[limits]\nrequest_head_timeout = \"60s\"");
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync(head);
        RawResponse response = await client.ReadResponseAsync();

        Assert.Equal(400, response.Status);
        Assert.Equal("BareCarriageReturn", JsonDocument.Parse(response.Body).RootElement.GetProperty("reason").GetString());
        Assert.True(await client.IsClosedAsync());
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task EncodedSlash_IsRefusedByDefault()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("GET /files/a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse response = await client.ReadResponseAsync();

        Assert.Equal(400, response.Status);
        Assert.Equal("EncodedSlash", JsonDocument.Parse(response.Body).RootElement.GetProperty("reason").GetString());
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task EncodedSlash_KeptServerWide_IsForwardedEncodedAndMatchedAsOneSegment()
    {
        await using var upstream = new RawUpstream((_, _) => RawReply.Text("HTTP/1.1 204 No Content\r\n\r\n"));
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [server]
            listen = ["127.0.0.1:0"]
            encoded_slashes = "keep"
            [upstreams.backend]
            targets = ["{{upstream.Address}}"]
            [routes.file]
            path = "/files/a%2Fb"
            respond = { status = 200, body = "exact" }
            [routes.files]
            path_prefix = "/files"
            upstream = "backend"
            """);
        using RawClient client = gateway.ConnectRaw();

        // Matched on the encoded form: the exact route's path spells the slash encoded.
        await client.SendAsync("GET /files/a%2fb HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse exact = await client.ReadResponseAsync();
        Assert.Equal("exact", exact.Body);

        // Never a separator: "..%2F" is not a dot segment, so nothing climbs out of /files; forwarded encoded.
        await client.SendAsync("GET /files/x/..%2F..%2Fadmin%5Cy HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse proxied = await client.ReadResponseAsync();
        Assert.Equal(204, proxied.Status);
        Assert.StartsWith("GET /files/x/..%2F..%2Fadmin%5Cy HTTP/1.1\r\n", Assert.Single(upstream.Heads));
    }

    [Fact]
    public async Task EncodedSlash_KeptByOneRoute_IsRefusedOnTheOthers()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [server]
            listen = ["127.0.0.1:0"]
            [upstreams.backend]
            targets = ["{upstream.Address}"]
            [routes.packages]
            path_prefix = "/packages"
            upstream = "backend"
            encoded_slashes = "keep"
            [routes.rest]
            path_prefix = "/"
            upstream = "backend"
            """);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("GET /packages/@scope%2Fname HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse kept = await client.ReadResponseAsync();
        await client.SendAsync("GET /other/a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse refused = await client.ReadResponseAsync();

        Assert.Equal(200, kept.Status);
        Assert.Equal(400, refused.Status);
        Assert.Equal(["/packages/@scope%2Fname"], upstream.Paths);
    }
}
