using System.Buffers;
using System.Text;
using HyperGate.Http1;

namespace HyperGate.Tests.Http1;

public class RequestHeadParserTests
{
    private static readonly HeadLimits Limits = HeadLimits.Default;

    public static TheoryData<string> ValidHeads => new()
    {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /users/7?x=1&y=%20 HTTP/1.1\r\nHost: api.example.com:8080\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
        "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
        "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET http://example.com/a?b HTTP/1.1\r\nHost: other\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "CUSTOM-METHOD /x HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tvalue\t\r\nX-Obs-Text: caf\u00e9\r\n\r\n",

        // RFC 9112 §2.2: empty lines before the request line are ignored.
        "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "\r\n\r\n\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n",

        // RFC 9112 §3.2.2: absolute-form with an IPv6 literal, as a Host field may carry it.
        "GET http://[::1]:8080/x?y=1 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        "GET https://[2001:db8::7]/ HTTP/1.1\r\nHost: other\r\n\r\n",

        // RFC 9110 §5.6.1: empty list elements are ignored.
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, \r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ,\tChunked ,,\r\n\r\n",

        // RFC 9110 §7.2: an empty Host is sent when the target URI has no authority.
        "GET / HTTP/1.1\r\nHost:\r\n\r\n",
    };

    [Theory]
    [MemberData(nameof(ValidHeads))]
    public void TryParse_EveryStrictPrefix_ReportsIncompleteAndConsumesNothing(string text)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        using var head = new RequestHead();
        for (int length = 0; length < bytes.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, length);
            ParseStatus status = RequestHeadParser.TryParse(buffer, head, Limits, out SequencePosition consumed, out SequencePosition examined, out _);
            Assert.Equal(ParseStatus.Incomplete, status);
            Assert.Equal(0, buffer.Slice(0, consumed).Length);
            Assert.Equal(length, buffer.Slice(0, examined).Length);
        }
    }

    [Theory]
    [MemberData(nameof(ValidHeads))]
    public void TryParse_OneBytePerSegment_GivesSameResultAsContiguous(string text)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text + "BODY");
        using var contiguous = new RequestHead();
        using var segmented = new RequestHead();

        Assert.Equal(ParseStatus.Complete, RequestHeadParser.TryParse(new ReadOnlySequence<byte>(bytes), contiguous, Limits, out SequencePosition c1, out _, out _));
        ReadOnlySequence<byte> split = SegmentedSequence.OneBytePerSegment(bytes);
        Assert.Equal(ParseStatus.Complete, RequestHeadParser.TryParse(split, segmented, Limits, out SequencePosition c2, out _, out _));

        Assert.Equal(text.Length, new ReadOnlySequence<byte>(bytes).Slice(0, c1).Length);
        Assert.Equal(text.Length, split.Slice(0, c2).Length);
        Assert.Equal(Describe(contiguous), Describe(segmented));
    }

    private static string Describe(RequestHead head)
    {
        var text = new StringBuilder();
        text.Append($"{head.Method}|{Encoding.Latin1.GetString(head.MethodBytes)}|{Encoding.Latin1.GetString(head.Target)}|");
        text.Append($"{Encoding.Latin1.GetString(head.RawPath)}|{Encoding.Latin1.GetString(head.Query)}|{Encoding.Latin1.GetString(head.Host)}|");
        text.Append($"{head.Version}|{head.ContentLength}|{head.IsChunked}|{head.KeepAlive}");
        foreach (HeaderField field in head.Headers)
        {
            text.Append($"|{Encoding.Latin1.GetString(head.NameOf(field))}={Encoding.Latin1.GetString(head.ValueOf(field))}:{field.Known}:{field.Dropped}");
        }

        return text.ToString();
    }

    [Fact]
    public void TryParse_OriginForm_SplitsPathQueryAndHost()
    {
        using RequestHead head = Parse("GET /users/7?x=1 HTTP/1.1\r\nHost: API.example.com:8080\r\nAccept: */*\r\n\r\n");
        Assert.Equal(HttpMethod.Get, head.Method);
        Assert.Equal("/users/7", Encoding.ASCII.GetString(head.RawPath));
        Assert.Equal("?x=1", Encoding.ASCII.GetString(head.Query));
        Assert.Equal("API.example.com:8080", Encoding.ASCII.GetString(head.Host));
        Assert.Equal(HttpVersion.Http11, head.Version);
        Assert.True(head.KeepAlive);
        Assert.Equal(2, head.HeaderCount);
        Assert.True(head.Headers[0].Dropped);
        Assert.False(head.Headers[1].Dropped);
    }

    [Theory]
    [InlineData("example.com")]
    [InlineData("example.com:8080")]
    [InlineData("127.0.0.1:1")]
    [InlineData("[::1]")]
    [InlineData("[2001:db8::7]:443")]
    [InlineData("[::ffff:192.0.2.1]:80")]
    [InlineData("a_b-c~d!$&'()*+,;=")]
    [InlineData("example.com:")]
    public void TryParse_ValidHost_IsAccepted(string host)
    {
        using RequestHead head = Parse($"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        Assert.Equal(host, Encoding.ASCII.GetString(head.Host));
    }

    [Fact]
    public void TryParse_AbsoluteForm_UsesTargetAuthorityOverHostHeader()
    {
        using RequestHead head = Parse("GET http://example.com:81/a/b?c=d HTTP/1.1\r\nHost: other\r\n\r\n");
        Assert.Equal("example.com:81", Encoding.ASCII.GetString(head.Host));
        Assert.Equal("/a/b", Encoding.ASCII.GetString(head.RawPath));
        Assert.Equal("?c=d", Encoding.ASCII.GetString(head.Query));
    }

    [Fact]
    public void TryParse_EmptyLinesBeforeRequestLine_AreConsumedWithTheHead()
    {
        const string text = "\r\n\r\nDELETE /a?b HTTP/1.1\r\nHost: h\r\n\r\n";
        byte[] bytes = Encoding.ASCII.GetBytes(text + "NEXT");
        using var head = new RequestHead();
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.Equal(ParseStatus.Complete, RequestHeadParser.TryParse(buffer, head, Limits, out SequencePosition consumed, out _, out _));
        Assert.Equal(text.Length, buffer.Slice(0, consumed).Length);
        Assert.Equal(HttpMethod.Delete, head.Method);
        Assert.Equal("DELETE", Encoding.ASCII.GetString(head.MethodBytes));
        Assert.Equal("/a?b", Encoding.ASCII.GetString(head.Target));
        Assert.Equal("h", Encoding.ASCII.GetString(head.Host));
    }

    [Theory]
    [InlineData(RequestHeadParser.MaxEmptyLinesBeforeRequest, ParseStatus.Complete)]
    [InlineData(RequestHeadParser.MaxEmptyLinesBeforeRequest + 1, ParseStatus.Rejected)]
    public void TryParse_EmptyLinesBeforeRequestLine_AreBounded(int emptyLines, ParseStatus expected)
    {
        using var head = new RequestHead();
        byte[] bytes = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("\r\n", emptyLines)) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        Assert.Equal(expected, RequestHeadParser.TryParse(new ReadOnlySequence<byte>(bytes), head, Limits, out _, out _, out RejectionReason reason));
        Assert.Equal(expected == ParseStatus.Complete ? RejectionReason.None : RejectionReason.InvalidRequestLine, reason);
    }

    public static TheoryData<string> Authorities => new()
    {
        "example.com", "example.com:8080", "127.0.0.1", "[::1]", "[::1]:8080", "[2001:db8::7]:443", "[::ffff:192.0.2.1]",
        "a_b-c~d!$&'()*+,;=", "example.com:", "[::1]:", "a:b:c", "a:80x", "a:123456", ":80", "[::1", "[::1]x", "[zz::1]",
        "a%41", "[a]", "user@example.com", "[::1]:80:80", "exa mple",
    };

    [Theory]
    [MemberData(nameof(Authorities))]
    public void TryParse_AbsoluteFormAuthority_AgreesWithHostField(string authority)
    {
        // RFC 9112 §3.2.2: the target's authority stands in for Host, so both forms accept exactly the same hosts.
        using var hostHead = new RequestHead();
        using var targetHead = new RequestHead();
        ParseStatus viaHost = RequestHeadParser.TryParse(
            new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes($"GET /x HTTP/1.1\r\nHost: {authority}\r\n\r\n")), hostHead, Limits, out _, out _, out _);
        ParseStatus viaTarget = RequestHeadParser.TryParse(
            new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes($"GET http://{authority}/x HTTP/1.1\r\nHost: a\r\n\r\n")), targetHead, Limits, out _, out _, out _);
        Assert.Equal(viaHost, viaTarget);
        if (viaTarget == ParseStatus.Complete)
        {
            Assert.Equal(authority, Encoding.ASCII.GetString(targetHead.Host));
            Assert.Equal("/x", Encoding.ASCII.GetString(targetHead.RawPath));
        }
    }

    [Theory]
    [InlineData("gzip, chunked", "gzip")]
    [InlineData(",deflate;q=1 ,chunked", "deflate")]
    public void TryParse_UnsupportedCodingBeforeChunked_NamesTheCoding(string codings, string expected)
    {
        using var head = new RequestHead();
        byte[] bytes = Encoding.ASCII.GetBytes($"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {codings}\r\n\r\n");
        Assert.Equal(ParseStatus.Rejected, RequestHeadParser.TryParse(new ReadOnlySequence<byte>(bytes), head, Limits, out _, out _, out RejectionReason reason));
        Assert.Equal(RejectionReason.UnsupportedTransferEncoding, reason);
        Assert.Equal(expected, head.UnsupportedCoding);
    }

    [Fact]
    public void TryParse_ConnectionOptions_DropNamedFieldsAndSetFlags()
    {
        using RequestHead head = Parse("GET / HTTP/1.1\r\nHost: a\r\nX-Secret: 1\r\nConnection: close, X-Secret\r\nKeep-Alive: timeout=5\r\nX-Kept: 2\r\n\r\n");
        Assert.False(head.KeepAlive);
        var forwarded = head.Headers.ToArray().Where(f => !f.Dropped).Select(f => Encoding.ASCII.GetString(head.NameOf(f))).ToArray();
        Assert.Equal(["X-Kept"], forwarded);
    }

    [Fact]
    public void TryParse_Http10WithoutKeepAlive_IsNotPersistent()
    {
        using RequestHead plain = Parse("GET / HTTP/1.0\r\n\r\n");
        using RequestHead keepAlive = Parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        Assert.False(plain.KeepAlive);
        Assert.True(keepAlive.KeepAlive);
    }

    [Fact]
    public void TryParse_IdenticalContentLengths_AreAccepted()
    {
        using RequestHead head = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n");
        Assert.Equal(12, head.ContentLength);
        Assert.Equal(BodyFraming.ContentLength, head.BodyFraming);
    }

    [Fact]
    public void TryParse_ExpectContinue_IsRecognized()
    {
        using RequestHead head = Parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
        Assert.True(head.ExpectContinue);
    }

    public static TheoryData<string, RejectionReason> Rejections => new()
    {
        { "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestLine },
        { "GET /\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestLine },
        { "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidMethod },
        { "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestLine },
        { "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestTarget },
        { "GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestTarget },
        { "GET /caf\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestTarget },
        { "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestTarget },
        { "GET * HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestTarget },
        { "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", RejectionReason.ConnectNotSupported },
        { "GET / HTTP/2.0\r\nHost: a\r\n\r\n", RejectionReason.UnsupportedHttpVersion },
        { "GET / HTTP/1.10\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestLine },
        { "GET / http/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestLine },
        { "GET / HTTP/1.1\nHost: a\r\n\r\n", RejectionReason.BareLineFeed },
        { "GET / HTTP/1.1\r\nHost: a\n\r\n", RejectionReason.BareLineFeed },
        { "GET / HTTP/1.1\r\nHost: a\r\n\n", RejectionReason.BareLineFeed },
        { "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", RejectionReason.BareCarriageReturn },
        { "GET / HTTP/1.1\r\nHost: a\r\nX\rA: b\r\n\r\n", RejectionReason.BareCarriageReturn },
        { "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n", RejectionReason.InvalidHeaderValue },
        { "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u007fc\r\n\r\n", RejectionReason.InvalidHeaderValue },
        { "GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", RejectionReason.InvalidHeaderName },
        { "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", RejectionReason.InvalidHeaderName },
        { "GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", RejectionReason.InvalidHeaderName },
        { "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", RejectionReason.InvalidHeaderName },
        { "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", RejectionReason.ObsoleteLineFolding },
        { "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", RejectionReason.MissingHost },
        { "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", RejectionReason.MultipleHost },
        { "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", RejectionReason.InvalidHost },
        { "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", RejectionReason.InvalidHost },
        { "GET http://user@evil/ HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidHost },
        { "GET / HTTP/1.1\r\nHost: a:b:c\r\n\r\n", RejectionReason.InvalidHost },
        { "GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n", RejectionReason.InvalidHost },
        { "GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", RejectionReason.InvalidHost },
        { "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", RejectionReason.InvalidHost },
        { "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", RejectionReason.InvalidHost },
        { "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", RejectionReason.InvalidHost },
        { "GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n", RejectionReason.InvalidHost },
        { "GET / HTTP/1.1\r\nHost: a%41\r\n\r\n", RejectionReason.InvalidHost },
        { "GET / HTTP/1.1\r\nHost: [a]\r\n\r\n", RejectionReason.InvalidHost },
        { "GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", RejectionReason.UnsupportedExpectation },
        { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", RejectionReason.InvalidContentLength },
        { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", RejectionReason.InvalidContentLength },
        { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", RejectionReason.InvalidContentLength },
        { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", RejectionReason.InvalidContentLength },
        { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", RejectionReason.InvalidContentLength },
        { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", RejectionReason.InvalidContentLength },
        { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", RejectionReason.ConflictingContentLength },
        { "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", RejectionReason.ContentLengthWithTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", RejectionReason.ContentLengthWithTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", RejectionReason.InvalidTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", RejectionReason.InvalidTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", RejectionReason.InvalidTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", RejectionReason.InvalidTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", RejectionReason.UnsupportedTransferEncoding },
        { "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", RejectionReason.TransferEncodingOnHttp10 },
        { "POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", RejectionReason.TransferEncodingOnHttp10 },

        // RFC 9110 §5.6.1: empty elements are ignored, but a list of nothing names no coding, and too many are noise.
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", RejectionReason.InvalidTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ,\r\n\r\n", RejectionReason.InvalidTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + new string(',', 17) + "chunked\r\n\r\n", RejectionReason.InvalidTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,,chunked\r\n\r\n", RejectionReason.InvalidTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked\r\nContent-Length: 5\r\n\r\n", RejectionReason.ContentLengthWithTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: g zip, chunked\r\n\r\n", RejectionReason.InvalidTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", RejectionReason.InvalidTransferEncoding },

        // RFC 9110 §5.3: several Transfer-Encoding fields are one list, in order.
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", RejectionReason.UnsupportedTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", RejectionReason.InvalidTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", RejectionReason.InvalidTransferEncoding },

        // RFC 9112 §2.2: a bare CR is refused as soon as it is buffered, complete line or not.
        { "GET / HTTP/1.1\r\nContent-Length: 3\r\n\rabc", RejectionReason.BareCarriageReturn },
        { "GET / HTTP/1.1\r\nHost: a\rX", RejectionReason.BareCarriageReturn },
        { "GET /\rHTTP", RejectionReason.BareCarriageReturn },
        { "\rGET / HTTP/1.1\r\n", RejectionReason.BareCarriageReturn },
        { "\r\n\rGET", RejectionReason.BareCarriageReturn },
        { "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.BareLineFeed },

        // RFC 9112 §3.2.2 and RFC 9110 §4.2.1: absolute-form authorities follow the Host rules; no empty host.
        { "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidHost },
        { "GET http://[::1/x HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidHost },
        { "GET http://[::1]/[x] HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestTarget },
        { "GET http://a/b#c HTTP/1.1\r\nHost: a\r\n\r\n", RejectionReason.InvalidRequestTarget },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public void TryParse_MalformedHead_IsRejectedWithReason(string text, RejectionReason expected)
    {
        using var head = new RequestHead();
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        ParseStatus status = RequestHeadParser.TryParse(new ReadOnlySequence<byte>(bytes), head, Limits, out _, out _, out RejectionReason reason);
        Assert.Equal(ParseStatus.Rejected, status);
        Assert.Equal(expected, reason);

        // The same verdict when the head arrives one byte at a time.
        using var segmentedHead = new RequestHead();
        RequestHeadParser.TryParse(SegmentedSequence.OneBytePerSegment(bytes), segmentedHead, Limits, out _, out _, out RejectionReason segmentedReason);
        Assert.Equal(expected, segmentedReason);
    }

    [Fact]
    public void TryParse_HeadLargerThanLimit_IsRejectedWithoutScanningFurther()
    {
        var limits = new HeadLimits(1024, 100, 512);
        string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('a', 2000) + "\r\n\r\n";
        using var parsed = new RequestHead();
        ParseStatus status = RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(head)), parsed, limits, out _, out _, out RejectionReason reason);
        Assert.Equal(ParseStatus.Rejected, status);
        Assert.Equal(RejectionReason.HeadTooLarge, reason);
    }

    [Fact]
    public void TryParse_TargetLongerThanLimit_IsUriTooLong()
    {
        var limits = new HeadLimits(8192, 100, 100);
        using var parsed = new RequestHead();
        string complete = "GET /" + new string('a', 200) + " HTTP/1.1\r\nHost: a\r\n\r\n";
        RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(complete)), parsed, limits, out _, out _, out RejectionReason reason);
        Assert.Equal(RejectionReason.RequestTargetTooLong, reason);

        // Still arriving, but already past what a request line may be.
        string partial = "GET /" + new string('a', 200);
        RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(partial)), parsed, limits, out _, out _, out reason);
        Assert.Equal(RejectionReason.RequestTargetTooLong, reason);
    }

    [Theory]
    [InlineData(300, 10)]
    [InlineData(10, 2000)]
    public void TryParse_HeaderNameOrLineLongerThanLimit_IsRejected(int nameLength, int valueLength)
    {
        var limits = new HeadLimits(32 * 1024, 100, 1024, MaxHeaderNameLength: 256, MaxHeaderLineLength: 1024);
        using var parsed = new RequestHead();
        string head = $"GET / HTTP/1.1\r\nHost: a\r\n{new string('n', nameLength)}: {new string('v', valueLength)}\r\n\r\n";
        RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(head)), parsed, limits, out _, out _, out RejectionReason reason);
        Assert.Equal(RejectionReason.HeaderFieldTooLarge, reason);
    }

    [Fact]
    public void TryParse_MoreHeadersThanLimit_IsRejected()
    {
        var limits = new HeadLimits(32 * 1024, 3, 1024);
        using var parsed = new RequestHead();
        string head = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(head)), parsed, limits, out _, out _, out RejectionReason reason);
        Assert.Equal(RejectionReason.TooManyHeaders, reason);
    }

    [Fact]
    public void TryParse_EveryControlCharacterInValue_IsRejectedExceptTab()
    {
        for (int c = 0; c < 0x20; c++)
        {
            string head = $"GET / HTTP/1.1\r\nHost: a\r\nX-A: a{(char)c}b\r\n\r\n";
            using var parsed = new RequestHead();
            ParseStatus status = RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(head)), parsed, Limits, out _, out _, out RejectionReason reason);
            if (c == '\t')
            {
                Assert.Equal(ParseStatus.Complete, status);
            }
            else
            {
                Assert.Equal(ParseStatus.Rejected, status);
                RejectionReason expected = c switch
                {
                    '\n' => RejectionReason.BareLineFeed,
                    '\r' => RejectionReason.BareCarriageReturn,
                    _ => RejectionReason.InvalidHeaderValue,
                };
                Assert.Equal(expected, reason);
            }
        }
    }

    private static RequestHead Parse(string text)
    {
        var head = new RequestHead();
        ParseStatus status = RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text)), head, Limits, out _, out _, out RejectionReason reason);
        Assert.True(status == ParseStatus.Complete, $"expected a complete head, got {status} ({reason})");
        return head;
    }
}
