using System.Buffers;
using System.Text;
using HyperGate.Http2;

namespace HyperGate.Tests.Http2;

/// <summary>Taking RFC 9112 §7.1 chunked coding off a body, for HTTP/2 DATA frames, however it is split.</summary>
public sealed class ChunkDecoderTests
{
    private static (string Data, ChunkStep Last, string Trailers) Run(params string[] pieces)
    {
        var decoder = new ChunkDecoder();
        var data = new StringBuilder();
        byte[] pending = [];
        ChunkStep step = ChunkStep.NeedMore;
        foreach (string piece in pieces)
        {
            pending = [.. pending, .. Encoding.Latin1.GetBytes(piece)];
            var buffer = new ReadOnlySequence<byte>(pending);
            while (true)
            {
                step = decoder.Next(ref buffer, out ReadOnlySequence<byte> chunk);
                if (step != ChunkStep.Data)
                {
                    break;
                }

                data.Append(Encoding.Latin1.GetString(chunk.ToArray()));
                buffer = buffer.Slice(chunk.End);
            }

            pending = buffer.ToArray();
            if (step is ChunkStep.End or ChunkStep.Invalid)
            {
                break;
            }
        }

        return (data.ToString(), step, Encoding.Latin1.GetString(decoder.Trailers));
    }

    [Fact]
    public void Chunks_GiveTheirData_AndTheEnd()
    {
        Assert.Equal(("hello world", ChunkStep.End, ""), Run("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"));
    }

    [Fact]
    public void ByteByByte_GivesTheSame()
    {
        string body = "5\r\nhello\r\nA\r\n0123456789\r\n0\r\nx-sum: 1\r\n\r\n";
        Assert.Equal(("hello0123456789", ChunkStep.End, "x-sum: 1\r\n"), Run([.. body.Select(c => c.ToString())]));
    }

    [Fact]
    public void Trailers_AreKeptForTheLastFrame()
    {
        Assert.Equal(("ab", ChunkStep.End, "grpc-status: 0\r\ngrpc-message: ok\r\n"), Run("2\r\nab\r\n0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n"));
    }

    [Theory]
    [InlineData("zz\r\n")]
    [InlineData("\r\n")]
    [InlineData("2\r\nabX\r\n")]
    public void BadFraming_IsInvalid(string body) => Assert.Equal(ChunkStep.Invalid, Run(body).Last);

    [Fact]
    public void AnUnfinishedBody_WantsMore() => Assert.Equal(("ab", ChunkStep.NeedMore, ""), Run("5\r\nab"));
}
