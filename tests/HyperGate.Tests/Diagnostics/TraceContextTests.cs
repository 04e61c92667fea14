using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using HyperGate.Diagnostics;
using HyperGate.Http1;

namespace HyperGate.Tests.Diagnostics;

public class TraceContextTests
{
    private const string Valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    [Theory]
    [InlineData(Valid, true, true)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", true, false)]
    [InlineData("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03-future", true, true)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", false, false)]
    [InlineData("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", false, false)]
    [InlineData("00-00000000000000000000000000000000-b7ad6b7169203331-01", false, false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", false, false)]
    [InlineData("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", false, false)]
    [InlineData("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", false, false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0", false, false)]
    [InlineData("", false, false)]
    public void TryParse_FollowsTheW3CRules(string value, bool valid, bool sampled)
    {
        Span<byte> trace = stackalloc byte[32];
        Span<byte> parent = stackalloc byte[16];
        Assert.Equal(valid, TraceContext.TryParse(Encoding.ASCII.GetBytes(value), trace, parent, out bool isSampled));
        Assert.Equal(sampled, isSampled);
        if (valid)
        {
            Assert.Equal(value[3..35], Encoding.ASCII.GetString(trace));
            Assert.Equal(value[36..52], Encoding.ASCII.GetString(parent));
        }
    }

    [Fact]
    public void Begin_WithAParent_KeepsTheTraceAndSampling_AndTakesANewSpanId()
    {
        var context = new TraceContext();
        context.Begin(Parse($"GET / HTTP/1.1\r\nHost: a\r\ntraceparent: {Valid}\r\n\r\n"), sampleRate: 0);

        Assert.True(context.HasParent);
        Assert.True(context.Sampled);
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", Encoding.ASCII.GetString(context.TraceId));
        Assert.Equal("b7ad6b7169203331", Encoding.ASCII.GetString(context.ParentSpanId));
        Assert.Matches("^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01\r\n$", UpstreamField(context));
        Assert.NotEqual("b7ad6b7169203331", Encoding.ASCII.GetString(context.SpanId));
    }

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(1.0, true)]
    public void Begin_WithoutAParent_StartsATraceSampledAtTheConfiguredRate(double rate, bool sampled)
    {
        var context = new TraceContext();
        context.Begin(Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), rate);

        Assert.False(context.HasParent);
        Assert.Equal(sampled, context.Sampled);
        Assert.Matches($"^00-[0-9a-f]{{32}}-[0-9a-f]{{16}}-0{(sampled ? 1 : 0)}\r\n$", UpstreamField(context));
    }

    [Fact]
    public void Begin_GivesEachRequestItsOwnIds()
    {
        var context = new TraceContext();
        var traces = new HashSet<string>();
        RequestHead request = Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        for (int i = 0; i < 1000; i++)
        {
            context.Begin(request, 0);
            Assert.True(traces.Add(Encoding.ASCII.GetString(context.TraceId)));
        }
    }

    [Fact]
    public async Task TheClientsTraceparent_IsNotForwardedAsReceived()
    {
        RequestHead request = Parse($"GET / HTTP/1.1\r\nHost: a\r\ntraceparent: {Valid}\r\nX-Other: 1\r\n\r\n");
        var pipe = new Pipe();
        var head = new HeadWriter(pipe.Writer);
        request.WriteForwardedFields(ref head);
        head.Commit();
        await pipe.Writer.FlushAsync();
        pipe.Reader.TryRead(out ReadResult forwarded);
        Assert.Equal("X-Other: 1\r\n", Encoding.ASCII.GetString(forwarded.Buffer));
    }

    private static RequestHead Parse(string head)
    {
        var request = new RequestHead();
        Assert.Equal(ParseStatus.Complete, RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(head)), request, HeadLimits.Default, out _, out _, out _));
        return request;
    }

    private static string UpstreamField(TraceContext context)
    {
        var pipe = new Pipe();
        var head = new HeadWriter(pipe.Writer);
        context.WriteUpstreamField(ref head);
        head.Commit();
        pipe.Writer.FlushAsync().AsTask().Wait();
        pipe.Reader.TryRead(out ReadResult written);
        return Encoding.ASCII.GetString(written.Buffer)["traceparent: ".Length..];
    }
}
