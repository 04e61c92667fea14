using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>
/// Classic request-smuggling payloads, each hiding a request for /smuggled. The gateway must answer 400 (or 501)
/// and the upstream must see only the legitimate requests: never /smuggled.
/// </summary>
public class SmugglingTests
{
    private const string Smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

    public static TheoryData<string, string> Payloads => new()
    {
        // CL.TE: a front end trusting Content-Length forwards a body the back end reads as chunked, then a request.
        { "CL.TE", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + Smuggled },
        // TE.CL: the reverse.
        { "TE.CL", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n25\r\n" + Smuggled + "\r\n0\r\n\r\n" },
        // TE.TE: obfuscated Transfer-Encoding that one side ignores.
        { "TE xchunked", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + Smuggled },
        { "TE leading space value", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding:  chunked\r\n\r\n0\r\n\r\n" + Smuggled },
        { "TE tab separator", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n" + Smuggled },
        { "TE chunked, identity", "POST /legit HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + Smuggled },
        { "TE twice", "POST /legit HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + Smuggled },
        { "TE name with trailing space", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + Smuggled },
        { "TE folded", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + Smuggled },
        { "TE vertical tab", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: \u000bchunked\r\n\r\n0\r\n\r\n" + Smuggled },
        { "TE NUL", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\0\r\n\r\n0\r\n\r\n" + Smuggled },
        { "TE on HTTP/1.0", "POST /legit HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + Smuggled },
        // CL.CL: two lengths.
        { "CL twice", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 37\r\n\r\n" + Smuggled },
        { "CL list", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 37\r\n\r\n" + Smuggled },
        { "CL name with trailing space", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length : 37\r\n\r\n" + Smuggled },
        { "CL plus sign", "POST /legit HTTP/1.1\r\nHost: a\r\nContent-Length: +37\r\n\r\n" + Smuggled },
        // Line-ending tricks.
        { "bare LF head", "GET /legit HTTP/1.1\nHost: a\nContent-Length: 37\n\n" + Smuggled },
        { "bare CR in value", "GET /legit HTTP/1.1\r\nHost: a\r\nX-A: b\rContent-Length: 37\r\n\r\n" + Smuggled },
        // CVE-2025-55315: a bare LF inside a chunk extension.
        { "chunk extension bare LF", "POST /legit HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;\nxx\r\n45\r\n0\r\n\r\n" + Smuggled },
        { "chunk data without CRLF", "POST /legit HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxxXX0\r\n\r\n" + Smuggled },
        // RFC 9112 §7.1: whitespace after a chunk size with no extension after it.
        { "chunk size trailing whitespace", "POST /legit HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nxx\r\n0\r\n\r\n" + Smuggled },
        // RFC 9112 §2.2: a bare CR in a chunk line, refused without waiting for a line end.
        { "chunk line bare CR", "POST /legit HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\rxx\r\n0\r\n\r\n" + Smuggled },
        { "chunk size overflow", "POST /legit HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\n" + Smuggled },
    };

    [Theory]
    [MemberData(nameof(Payloads))]
    public async Task SmugglingPayload_IsRejected_AndNoSmuggledRequestReachesUpstream(string name, string payload)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync(payload);
        RawResponse response = await client.ReadResponseAsync();

        Assert.True(response.Status is 400 or 501, $"{name}: got {response.Status}");
        Assert.True(await client.IsClosedAsync(), $"{name}: the connection must close after a framing error");

        // A chunked body that turns out malformed may have had its head forwarded, never anything after it.
        Assert.DoesNotContain("/smuggled", upstream.Paths);
        Assert.All(upstream.Paths, path => Assert.Equal("/legit", path));
    }

    [Fact]
    public async Task LegitimatePipelinedRequests_AllArrive_InOrder()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address);
        using RawClient client = gateway.ConnectRaw();

        await client.SendAsync("POST /one HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
            "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nxy" + "GET /three HTTP/1.1\r\nHost: a\r\n\r\n");
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await client.ReadResponseAsync()).Status);
        }

        Assert.Equal(["/one", "/two", "/three"], upstream.Paths);
    }
}
