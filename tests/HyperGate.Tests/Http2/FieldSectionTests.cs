using System.Text;
using HyperGate.Http2;

namespace HyperGate.Tests.Http2;

/// <summary>RFC 9113 §8.2 and §8.3: a request's fields, checked and given the HTTP/1.1 form the pipeline reads.</summary>
public sealed class FieldSectionTests
{
    private static readonly (string, string)[] Get = [(":method", "GET"), (":scheme", "https"), (":authority", "api.test"), (":path", "/a?b=1")];

    private static FieldSection Feed(IEnumerable<(string Name, string Value)> fields, bool trailers = false, int maxListSize = 16 * 1024)
    {
        var request = new FieldSection();
        request.Begin(maxListSize, trailers ? SectionKind.Trailers : SectionKind.Request);
        foreach ((string name, string value) in fields)
        {
            request.OnField(Encoding.Latin1.GetBytes(name), Encoding.Latin1.GetBytes(value));
        }

        return request;
    }

    private static string Complete(FieldSection request, bool bodyFollows = false)
    {
        Assert.True(request.TryComplete(bodyFollows, out ReadOnlyMemory<byte> head), request.Malformed);
        return Encoding.Latin1.GetString(head.Span);
    }

    [Fact]
    public void PseudoHeaders_BecomeTheRequestLineAndHost()
    {
        Assert.Equal("GET /a?b=1 HTTP/1.1\r\nhost: api.test\r\naccept: */*\r\n\r\n", Complete(Feed([.. Get, ("accept", "*/*")])));
    }

    [Fact]
    public void SplitCookies_AreJoined_WithSemicolonSpace()
    {
        string head = Complete(Feed([.. Get, ("cookie", "a=1"), ("x", "y"), ("cookie", "b=2"), ("cookie", "c=3")]));
        Assert.Contains("\r\ncookie: a=1; b=2; c=3\r\n", head);
        Assert.Single(head.Split("cookie:"), part => part.Contains("a=1"));
    }

    [Fact]
    public void ABodyWithoutALength_IsChunked_AndOneWithALength_KeepsIt()
    {
        Assert.EndsWith("transfer-encoding: chunked\r\n\r\n", Complete(Feed([.. Get]), bodyFollows: true));
        string withLength = Complete(Feed([.. Get, ("content-length", "5")]), bodyFollows: true);
        Assert.Contains("content-length: 5\r\n", withLength);
        Assert.DoesNotContain("transfer-encoding", withLength);
    }

    [Fact]
    public void HostAlone_ServesAsTheAuthority_AndAMatchingHostIsNotRepeated()
    {
        Assert.StartsWith("GET / HTTP/1.1\r\nhost: h.test\r\n", Complete(Feed([(":method", "GET"), (":scheme", "http"), (":path", "/"), ("host", "h.test")])));
        string both = Complete(Feed([.. Get, ("host", "API.test")]));
        Assert.Single(both.Split("\r\n"), line => line.StartsWith("host:"));
    }

    [Fact]
    public void Te_Trailers_AndOptionsAsterisk_AreValid()
    {
        Assert.Contains("te: trailers", Complete(Feed([.. Get, ("te", "trailers")])));
        Assert.StartsWith("OPTIONS * HTTP/1.1", Complete(Feed([(":method", "OPTIONS"), (":scheme", "https"), (":authority", "a"), (":path", "*")])));
    }

    [Fact]
    public void Connect_NamesOnlyTheAuthority()
    {
        Assert.StartsWith("CONNECT a.test:443 HTTP/1.1\r\n", Complete(Feed([(":method", "CONNECT"), (":authority", "a.test:443")])));
    }

    public static TheoryData<string, (string, string)[]> MalformedRequests => new()
    {
        { "invalid_field_name", [.. Get, ("Accept", "*/*")] },                  // §8.2.1: uppercase
        { "invalid_field_name", [.. Get, ("bad name", "x")] },
        { "invalid_field_value", [.. Get, ("x", "a\r\nb: c")] },              // §8.2.1: CR, LF, NUL
        { "invalid_field_value", [.. Get, ("x", "a\0b")] },
        { "invalid_field_value", [.. Get, ("x", " leading")] },               // leading or trailing whitespace
        { "invalid_field_value", [.. Get, ("x", "trailing\t")] },
        { "connection_specific_field", [.. Get, ("connection", "keep-alive")] }, // §8.2.2
        { "connection_specific_field", [.. Get, ("keep-alive", "5")] },
        { "connection_specific_field", [.. Get, ("proxy-connection", "x")] },
        { "connection_specific_field", [.. Get, ("transfer-encoding", "chunked")] },
        { "connection_specific_field", [.. Get, ("upgrade", "h2c")] },
        { "invalid_te", [.. Get, ("te", "gzip")] },
        { "misplaced_pseudo_header", [(":method", "GET"), (":scheme", "https"), ("accept", "*/*"), (":path", "/")] }, // §8.3
        { "unknown_pseudo_header", [.. Get, (":status", "200")] },
        { "unknown_pseudo_header", [(":protocol", "websocket"), .. Get] },
        { "invalid_path", [.. Get, (":path", "/again")] },                    // each once
        { "invalid_method", [(":method", "GET"), .. Get] },
        { "invalid_scheme", [(":scheme", "http"), .. Get] },
        { "invalid_authority", [(":authority", "x"), .. Get] },
        { "invalid_path", [(":method", "GET"), (":scheme", "https"), (":path", "")] },
        { "missing_pseudo_header", [(":method", "GET"), (":scheme", "https")] },      // §8.3.1: :path
        { "missing_pseudo_header", [(":scheme", "https"), (":path", "/")] },          // :method
        { "missing_pseudo_header", [(":method", "GET"), (":path", "/")] },            // :scheme
        { "missing_pseudo_header", [(":method", "CONNECT"), (":authority", "a:1"), (":path", "/")] }, // §8.5
        { "invalid_path", [(":method", "GET"), (":scheme", "https"), (":path", "a/b")] },
        { "invalid_path", [(":method", "GET"), (":scheme", "https"), (":path", "*")] }, // only OPTIONS
        { "host_authority_mismatch", [.. Get, ("host", "other.test")] },
        { "invalid_content_length", [.. Get, ("content-length", "abc")] },
        { "invalid_content_length", [.. Get, ("content-length", "5"), ("content-length", "6")] },
        { "content_length_mismatch", [.. Get, ("content-length", "5")] },     // §8.1.1: END_STREAM and a length
    };

    [Theory]
    [MemberData(nameof(MalformedRequests))]
    public void MalformedRequests_AreNamed_AndGiveNoHead(string reason, (string, string)[] fields)
    {
        FieldSection request = Feed(fields);
        Assert.False(request.TryComplete(bodyFollows: false, out _));
        Assert.Equal(reason, request.Malformed);
    }

    [Fact]
    public void Trailers_CarryNoPseudoHeaders_AndComeOutAsFieldLines()
    {
        FieldSection trailers = Feed([("grpc-status", "0"), ("x-sum", "abc")], trailers: true);
        Assert.Null(trailers.Malformed);
        Assert.Equal("grpc-status: 0\r\nx-sum: abc\r\n", Encoding.Latin1.GetString(trailers.TrailerLines));

        Assert.Equal("misplaced_pseudo_header", Feed([(":path", "/")], trailers: true).Malformed);
    }

    [Fact]
    public void AFieldListPastTheBound_IsTooLarge_CountingThirtyTwoBytesAField()
    {
        // 4 pseudo fields and one of 100 bytes: 4 * 32 + 53 + 32 + 100 > 300.
        FieldSection request = Feed([.. Get, ("x", new string('v', 99))], maxListSize: 300);
        Assert.True(request.TooLarge);
        Assert.False(request.TryComplete(false, out _));
        Assert.False(Feed([.. Get], maxListSize: 300).TooLarge);
    }

    private static FieldSection Response(params (string Name, string Value)[] fields)
    {
        var response = new FieldSection();
        response.Begin(16 * 1024, SectionKind.Response);
        foreach ((string name, string value) in fields)
        {
            response.OnField(Encoding.Latin1.GetBytes(name), Encoding.Latin1.GetBytes(value));
        }

        return response;
    }

    private static string CompleteResponse(FieldSection response, bool bodyFollows, bool headRequest = false)
    {
        Assert.True(response.TryCompleteResponse(bodyFollows, headRequest, out ReadOnlyMemory<byte> head), response.Malformed);
        return Encoding.Latin1.GetString(head.Span);
    }

    [Theory]
    [InlineData(true, "HTTP/1.1 200 \r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n")] // DATA follows, no length: chunked (trailers may come)
    [InlineData(false, "HTTP/1.1 200 \r\ncontent-type: text/plain\r\ncontent-length: 0\r\n\r\n")]         // END_STREAM on the head: no body
    public void AResponseHead_IsFramedForWhatFollows(bool bodyFollows, string expected) =>
        Assert.Equal(expected, CompleteResponse(Response((":status", "200"), ("content-type", "text/plain")), bodyFollows));

    [Fact]
    public void AResponseLength_IsKept_AndMayDescribeNoBodyOnlyForHeadAnd304()
    {
        Assert.Equal("HTTP/1.1 200 \r\ncontent-length: 5\r\n\r\n", CompleteResponse(Response((":status", "200"), ("content-length", "5")), bodyFollows: true));
        Assert.Equal("HTTP/1.1 200 \r\ncontent-length: 5\r\n\r\n", CompleteResponse(Response((":status", "200"), ("content-length", "5")), bodyFollows: false, headRequest: true));
        Assert.Equal("HTTP/1.1 304 \r\ncontent-length: 5\r\n\r\n", CompleteResponse(Response((":status", "304"), ("content-length", "5")), bodyFollows: false));

        FieldSection wrong = Response((":status", "200"), ("content-length", "5"));
        Assert.False(wrong.TryCompleteResponse(bodyFollows: false, headRequest: false, out _));
        Assert.Equal("content_length_mismatch", wrong.Malformed);
    }

    [Fact]
    public void NoContentAndInterimResponses_GetNoFraming()
    {
        Assert.Equal("HTTP/1.1 204 \r\n\r\n", CompleteResponse(Response((":status", "204")), bodyFollows: false));
        Assert.Equal("HTTP/1.1 103 \r\nlink: </a.css>; rel=preload\r\n\r\n", CompleteResponse(Response((":status", "103"), ("link", "</a.css>; rel=preload")), bodyFollows: false));
    }

    [Theory]
    [InlineData("invalid_status", ":status", "20")]
    [InlineData("invalid_status", ":status", "abc")]
    [InlineData("invalid_status", ":status", "099")]
    [InlineData("invalid_status", ":path", "/")]          // §8.3.2: :status alone
    [InlineData("connection_specific_field", "connection", "close")]
    [InlineData("invalid_field_name", "Content-Type", "text/plain")]
    public void MalformedResponses_AreNamed(string reason, string name, string value)
    {
        FieldSection response = name == ":status" ? Response((name, value)) : Response((":status", "200"), (name, value));
        Assert.False(response.TryCompleteResponse(bodyFollows: true, headRequest: false, out _));
        Assert.Equal(reason, response.Malformed);
    }

    [Fact]
    public void AResponseWithoutStatus_IsMalformed()
    {
        FieldSection response = Response(("content-type", "text/plain"));
        Assert.False(response.TryCompleteResponse(bodyFollows: true, headRequest: false, out _));
        Assert.Equal("missing_pseudo_header", response.Malformed);
    }
}
