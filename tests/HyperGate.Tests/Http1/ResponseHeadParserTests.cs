using System.Buffers;
using System.Text;
using HyperGate.Http1;

namespace HyperGate.Tests.Http1;

public class ResponseHeadParserTests
{
    private static readonly HeadLimits Limits = HeadLimits.Default;

    [Fact]
    public void TryParse_TypicalResponse_ReadsStatusFramingAndFields()
    {
        using ResponseHead head = Parse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nKeep-Alive: timeout=5\r\n\r\n");
        Assert.Equal(200, head.StatusCode);
        Assert.Equal("OK", Encoding.ASCII.GetString(head.ReasonPhrase));
        Assert.Equal(12, head.ContentLength);
        Assert.Equal(BodyFraming.ContentLength, head.GetBodyFraming(HttpMethod.Get));
        Assert.Equal(BodyFraming.None, head.GetBodyFraming(HttpMethod.Head));
        Assert.Equal(["Content-Type"], head.Headers.ToArray().Where(f => !f.Dropped).Select(f => Encoding.ASCII.GetString(head.NameOf(f))));
    }

    [Theory]
    [InlineData("HTTP/1.1 204 No Content\r\n\r\n", BodyFraming.None)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", BodyFraming.None)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", BodyFraming.Chunked)]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", BodyFraming.UntilClose)]
    [InlineData("HTTP/1.0 200\r\n\r\n", BodyFraming.UntilClose)]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\n", BodyFraming.None)]
    public void GetBodyFraming_FollowsRfc9112Section6_3(string text, BodyFraming expected)
    {
        using ResponseHead head = Parse(text);
        Assert.Equal(expected, head.GetBodyFraming(HttpMethod.Get));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 5\r\n\r\n")]
    [InlineData("HTTP/1.1 2000 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 099 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 20x OK\r\n\r\n")]
    [InlineData("HTTP/3.0 200 OK\r\n\r\n")]
    [InlineData("ICY 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-Split: a\rb\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n folded\r\n\r\n")]
    public void TryParse_AmbiguousOrMalformedResponse_IsRejected(string text)
    {
        using var head = new ResponseHead();
        ParseStatus status = ResponseHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)), head, Limits, out _, out _, out RejectionReason reason);
        Assert.Equal(ParseStatus.Rejected, status);
        Assert.Equal(RejectionReason.UpstreamInvalidResponse, reason);
    }

    [Fact]
    public void TryParse_OneBytePerSegment_GivesSameResult()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabc");
        using var head = new ResponseHead();
        ReadOnlySequence<byte> split = SegmentedSequence.OneBytePerSegment(bytes);
        Assert.Equal(ParseStatus.Complete, ResponseHeadParser.TryParse(split, head, Limits, out SequencePosition consumed, out _, out _));
        Assert.Equal(bytes.Length - 3, split.Slice(0, consumed).Length);
        Assert.Equal(404, head.StatusCode);
        Assert.Equal(3, head.ContentLength);
    }

    [Fact]
    public void TryParse_EveryStrictPrefix_IsIncomplete()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
        using var head = new ResponseHead();
        for (int length = 0; length < bytes.Length; length++)
        {
            Assert.Equal(ParseStatus.Incomplete, ResponseHeadParser.TryParse(new ReadOnlySequence<byte>(bytes, 0, length), head, Limits, out _, out _, out _));
        }
    }

    private static ResponseHead Parse(string text)
    {
        var head = new ResponseHead();
        ParseStatus status = ResponseHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)), head, Limits, out _, out _, out _);
        Assert.Equal(ParseStatus.Complete, status);
        return head;
    }
}
