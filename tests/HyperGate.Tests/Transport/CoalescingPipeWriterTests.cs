using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using HyperGate.Transport;

namespace HyperGate.Tests.Transport;

public sealed class CoalescingPipeWriterTests
{
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));

    [Fact]
    public async Task SmallWrites_ReachThePipe_InOrder_WhenFlushed()
    {
        var writer = new CoalescingPipeWriter(_pipe.Writer);
        writer.Write("GET / HTTP/1.1\r\n"u8);
        writer.Write("Host: a\r\n\r\n"u8);
        Assert.Equal(27, writer.UnflushedBytes);
        Assert.False(_pipe.Reader.TryRead(out _));

        await writer.FlushAsync();

        Assert.Equal("GET / HTTP/1.1\r\nHost: a\r\n\r\n", await ReadAllAsync(writer));
    }

    [Fact]
    public async Task WritesLargerThanTheMemoryAtHand_AreSplitAcrossPieces_Whole()
    {
        var writer = new CoalescingPipeWriter(_pipe.Writer);
        string text = string.Concat(Enumerable.Range(0, 5000).Select(i => $"{i},"));
        foreach (string part in text.Chunk(700).Select(c => new string(c)))
        {
            writer.Write(Encoding.ASCII.GetBytes(part));
        }

        await writer.FlushAsync();

        Assert.Equal(text, await ReadAllAsync(writer));
    }

    [Fact]
    public async Task Complete_PassesOnWhatWasWritten()
    {
        var writer = new CoalescingPipeWriter(_pipe.Writer);
        writer.Write("last words"u8);

        writer.Complete();

        ReadResult result = await _pipe.Reader.ReadAsync();
        Assert.Equal("last words", Encoding.ASCII.GetString(result.Buffer.ToArray()));
        Assert.True(result.IsCompleted);
    }

    [Fact]
    public void Advance_PastTheMemoryHandedOut_IsRefused()
    {
        var writer = new CoalescingPipeWriter(_pipe.Writer);
        int handedOut = writer.GetMemory(10).Length;

        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Advance(handedOut + 1));
    }

    private async Task<string> ReadAllAsync(PipeWriter writer)
    {
        writer.Complete();
        var text = new StringBuilder();
        while (true)
        {
            ReadResult result = await _pipe.Reader.ReadAsync();
            text.Append(Encoding.ASCII.GetString(result.Buffer.ToArray()));
            _pipe.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return text.ToString();
            }
        }
    }
}
