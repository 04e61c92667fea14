using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

public class ProtocolTests
{
    [Fact]
    public async Task PipelinedRequests_AreAnsweredInOrder()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync(
            "GET /one HTTP/1.1\r\nHost: a\r\n\r\n" +
            "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
            "GET /status/204 HTTP/1.1\r\nHost: a\r\n\r\n" +
            "GET /three HTTP/1.1\r\nHost: a\r\n\r\n");

        Assert.Equal("/one", EchoResult.Parse((await client.ReadResponseAsync()).Body).Path);
        EchoResult second = EchoResult.Parse((await client.ReadResponseAsync()).Body);
        Assert.Equal(("/two", 3L), (second.Path, second.BodyLength));
        Assert.Equal(204, (await client.ReadResponseAsync()).Status);
        Assert.Equal("/three", EchoResult.Parse((await client.ReadResponseAsync()).Body).Path);
    }

    [Fact]
    public async Task Head_HasLengthButNoBody_AndConnectionStaysInSync()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("HEAD /download?size=1000 HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse head = await client.ReadResponseAsync(headRequest: true);
        Assert.Equal(200, head.Status);
        Assert.Equal("1000", head.Header("Content-Length"));
        Assert.Equal("/after", EchoResult.Parse((await client.ReadResponseAsync()).Body).Path);
    }

    [Theory]
    [InlineData(204)]
    [InlineData(304)]
    public async Task NoContentAndNotModified_HaveNoBody_AndKeepTheConnection(int status)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync($"GET /status/{status} HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse first = await client.ReadResponseAsync();
        Assert.Equal(status, first.Status);
        Assert.Null(first.Header("Transfer-Encoding"));
        Assert.Equal("/next", EchoResult.Parse((await client.ReadResponseAsync()).Body).Path);
    }

    [Fact]
    public async Task InterimResponses_AreForwardedBeforeTheFinalOne()
    {
        await using var upstream = new RawUpstream((_, _) => RawReply.Text(
            "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();
        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse early = await client.ReadResponseAsync();
        RawResponse final = await client.ReadResponseAsync();
        Assert.Equal(103, early.Status);
        Assert.Equal("</style.css>; rel=preload", early.Header("Link"));
        Assert.Equal(200, final.Status);
        Assert.Equal("ok", final.Body);
    }

    public static TheoryData<string, int> MalformedRequests => new()
    {
        { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello", 400 },
        { "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501 },
        { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400 },
        { "GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n folded\r\n\r\n", 400 },
        { "GET / HTTP/1.1\nHost: a\n\n", 400 },
        { "GET / HTTP/1.1\r\n\r\n", 400 },
        { "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
        { "GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
        { "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505 },
        { "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405 },
        { "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", 417 },
        { "GET /" + new string('a', 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414 },
        { "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('a', 40_000) + "\r\n\r\n", 431 },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400 },
    };

    [Theory]
    [MemberData(nameof(MalformedRequests))]
    public async Task MalformedRequest_GetsJsonError_AndNeverReachesUpstream(string request, int status)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync(request);
        RawResponse response = await client.ReadResponseAsync();

        Assert.Equal(status, response.Status);
        Assert.Equal("application/json", response.Header("Content-Type"));
        Assert.Equal(status, JsonDocument.Parse(response.Body).RootElement.GetProperty("status").GetInt32());
        Assert.True(await client.IsClosedAsync());
        if (!request.Contains("chunked\r\n\r\nzz", StringComparison.Ordinal))
        {
            Assert.Equal(0, upstream.RequestCount);
        }
    }

    [Fact]
    public async Task UpgradeH2c_IsNeverForwarded()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
        RawResponse response = await client.ReadResponseAsync();
        EchoResult echo = EchoResult.Parse(response.Body);

        Assert.Equal(200, response.Status);
        Assert.False(echo.Headers.ContainsKey("Upgrade"));
        Assert.False(echo.Headers.ContainsKey("HTTP2-Settings"));
    }

    [Fact]
    public async Task Http10Client_GetsResponse_ThenClose()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();
        await client.SendAsync("GET /old HTTP/1.0\r\n\r\n");
        RawResponse response = await client.ReadResponseAsync();
        EchoResult echo = EchoResult.Parse(response.Body);
        Assert.Equal("1.0 hypergate", echo.Headers["Via"]);
        Assert.True(await client.IsClosedAsync());
    }
}
