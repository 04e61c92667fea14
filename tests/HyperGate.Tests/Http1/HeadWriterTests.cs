using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using HyperGate.Http1;

namespace HyperGate.Tests.Http1;

public class HeadWriterTests
{
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0));

    [Fact]
    public void Pieces_LandInOrder_AndReachThePipeOnlyAtCommit()
    {
        var head = new HeadWriter(_pipe.Writer);
        head.Write("HTTP/1.1 200 OK\r\nContent-Length: "u8);
        Span<byte> digits = head.GetSpan(20);
        Utf8Formatter.TryFormat(12345, digits, out int written);
        head.Advance(written);
        head.Write("\r\n\r\n"u8);
        Assert.Equal(0, _pipe.Writer.UnflushedBytes);

        head.Commit();
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n"u8.ToArray(), Written());
    }

    [Fact]
    public void APieceLargerThanTheSpan_ArrivesWhole()
    {
        byte[] large = Enumerable.Range(0, 70_000).Select(i => (byte)i).ToArray();
        var head = new HeadWriter(_pipe.Writer);
        head.Write("a"u8);
        head.Write(large);
        head.Write("z"u8);
        head.Commit();

        Assert.Equal([(byte)'a', .. large, (byte)'z'], Written());
    }

    [Fact]
    public void GetSpan_BeyondWhatIsLeft_KeepsWhatWasWritten()
    {
        var head = new HeadWriter(_pipe.Writer);
        head.Write(new byte[5000]);
        head.GetSpan(60_000)[0] = 7;
        head.Advance(1);
        head.Commit();

        byte[] written = Written();
        Assert.Equal(5001, written.Length);
        Assert.Equal(7, written[^1]);
    }

    private byte[] Written()
    {
        _pipe.Writer.FlushAsync().AsTask().Wait();
        Assert.True(_pipe.Reader.TryRead(out ReadResult result));
        byte[] bytes = result.Buffer.ToArray();
        _pipe.Reader.AdvanceTo(result.Buffer.End);
        return bytes;
    }
}
