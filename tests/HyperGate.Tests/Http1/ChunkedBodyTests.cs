using System.IO.Pipelines;
using System.Text;
using HyperGate.Http1;

namespace HyperGate.Tests.Http1;

public class ChunkedBodyTests
{
    [Theory]
    [InlineData("5\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\n\r\n", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")]
    [InlineData("A\r\n0123456789\r\n0\r\nX-Checksum: abc\r\nContent-Length: 5\r\n\r\n", "a\r\n0123456789\r\n0\r\nX-Checksum: abc\r\n\r\n")]
    [InlineData("000\r\n\r\n", "0\r\n\r\n")]
    public async Task CopyAsync_ValidBody_IsRewrittenCanonically(string input, string expected)
    {
        (BodyCopyResult result, string output) = await CopyAsync(input, long.MaxValue, dechunk: false);
        Assert.Equal(BodyCopyResult.Completed, result);
        Assert.Equal(expected, output);
    }

    [Theory]
    [InlineData("")]
    [InlineData(";a")]
    [InlineData(";a=b")]
    [InlineData(" ; a = b ;c")]
    [InlineData(";a=\"quoted value\";b=\"esc \\\" aped\"")]
    [InlineData(";a=\"tab\there\"")]
    public void IsValidExtensionList_WellFormed_IsAccepted(string extensions) =>
        Assert.True(ChunkedBody.IsValidExtensionList(Encoding.Latin1.GetBytes(extensions)));

    [Theory]
    [InlineData(";")]
    [InlineData("a=b")]
    [InlineData(";a=")]
    [InlineData(";a=b c")]
    [InlineData(";(a)")]
    [InlineData(";a=\"unterminated")]
    [InlineData(";a=\"nul\0\"")]
    [InlineData(";a=\"bare\rCR\"")]
    [InlineData(";a=b;;c")]
    [InlineData(" ")]
    [InlineData("\t")]
    [InlineData(";a ")]
    [InlineData(";a=b\t")]
    [InlineData(";a=\"q\" ")]
    public void IsValidExtensionList_Malformed_IsRejected(string extensions) =>
        Assert.False(ChunkedBody.IsValidExtensionList(Encoding.Latin1.GetBytes(extensions)));

    [Fact]
    public async Task CopyAsync_Dechunk_WritesOnlyTheData()
    {
        (BodyCopyResult result, string output) = await CopyAsync("5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n", long.MaxValue, dechunk: true);
        Assert.Equal(BodyCopyResult.Completed, result);
        Assert.Equal("hello world", output);
    }

    [Theory]
    [InlineData("5\r\nhelloXX0\r\n\r\n")]
    [InlineData("5\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhello\n0\r\n\r\n")]
    [InlineData("5;a=b\rc\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a\nb\r\nhello\r\n0\r\n\r\n")]
    [InlineData("-5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("0x5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("\r\nhello\r\n0\r\n\r\n")]
    [InlineData("1000000000000000\r\n")]
    [InlineData("5 5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("0\r\nBad Trailer: x\r\n\r\n")]
    [InlineData("0\r\nX-A: b\n\r\n")]
    [InlineData("a \r\n0123456789\r\n0\r\n\r\n")] // RFC 9112 §7.1: whitespace after the size with no extension
    [InlineData("a\t\r\n0123456789\r\n0\r\n\r\n")]
    [InlineData("5;a=b \r\nhello\r\n0\r\n\r\n")]
    public async Task CopyAsync_MalformedBody_IsRejectedBeforeWritingIt(string input)
    {
        (BodyCopyResult result, string output) = await CopyAsync(input, long.MaxValue, dechunk: false);
        Assert.Equal(BodyCopyResult.SourceInvalid, result);
        Assert.DoesNotContain("0\r\n\r\n", output);
    }

    [Theory]
    [InlineData("5\rhel")] // RFC 9112 §2.2: a CR in a chunk line must be followed by LF
    [InlineData("5;a\rb")]
    [InlineData("5\r\nhello\r\n0\r\nX-A: b\rc")] // and in a trailer line
    public async Task CopyAsync_BareCarriageReturn_IsRejectedWithoutWaitingForTheLineEnd(string input)
    {
        // The client sends no more and keeps the connection open: the verdict must not wait for a line end.
        var source = new Pipe();
        var destination = new Pipe();
        await source.Writer.WriteAsync(Encoding.ASCII.GetBytes(input));
        BodyCopyResult result = await ChunkedBody.CopyAsync(source.Reader, destination.Writer, long.MaxValue, dechunk: false, guard: null, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(BodyCopyResult.SourceInvalid, result);
    }

    [Fact]
    public async Task CopyAsync_CarriageReturnLastBuffered_WaitsForItsLineFeed()
    {
        var source = new Pipe();
        var destination = new Pipe();
        await source.Writer.WriteAsync("5\r"u8.ToArray());
        Task<BodyCopyResult> copy = ChunkedBody.CopyAsync(source.Reader, destination.Writer, long.MaxValue, dechunk: false, guard: null, CancellationToken.None).AsTask();
        await source.Writer.WriteAsync("\nhello\r\n0\r\n\r\n"u8.ToArray());
        Assert.Equal(BodyCopyResult.Completed, await copy);
    }

    [Fact]
    public async Task CopyAsync_BodyOverLimit_IsTooLarge()
    {
        (BodyCopyResult result, _) = await CopyAsync("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 8, dechunk: false);
        Assert.Equal(BodyCopyResult.TooLarge, result);
    }

    [Fact]
    public async Task CopyAsync_SourceClosesEarly_IsTruncated()
    {
        (BodyCopyResult result, _) = await CopyAsync("5\r\nhel", long.MaxValue, dechunk: false);
        Assert.Equal(BodyCopyResult.SourceTruncated, result);
    }

    [Fact]
    public async Task CopyAsync_InputOneBytePerWrite_GivesSameOutput()
    {
        const string input = "5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n";
        var source = new Pipe();
        var destination = new Pipe();
        Task<BodyCopyResult> copy = ChunkedBody.CopyAsync(source.Reader, destination.Writer, long.MaxValue, dechunk: false, guard: null, CancellationToken.None).AsTask();
        foreach (byte b in Encoding.ASCII.GetBytes(input))
        {
            await source.Writer.WriteAsync(new[] { b });
        }

        Assert.Equal(BodyCopyResult.Completed, await copy);
        await destination.Writer.CompleteAsync();
        Assert.Equal("5\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", await ReadAllAsync(destination.Reader));
    }

    private static async Task<(BodyCopyResult, string)> CopyAsync(string input, long maxBodySize, bool dechunk)
    {
        var source = new Pipe();
        var destination = new Pipe();
        await source.Writer.WriteAsync(Encoding.ASCII.GetBytes(input));
        await source.Writer.CompleteAsync();
        BodyCopyResult result = await ChunkedBody.CopyAsync(source.Reader, destination.Writer, maxBodySize, dechunk, guard: null, CancellationToken.None);
        await destination.Writer.FlushAsync();
        await destination.Writer.CompleteAsync();
        return (result, await ReadAllAsync(destination.Reader));
    }

    private static async Task<string> ReadAllAsync(PipeReader reader)
    {
        var text = new StringBuilder();
        while (true)
        {
            ReadResult read = await reader.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in read.Buffer)
            {
                text.Append(Encoding.ASCII.GetString(segment.Span));
            }

            reader.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted)
            {
                return text.ToString();
            }
        }
    }
}
