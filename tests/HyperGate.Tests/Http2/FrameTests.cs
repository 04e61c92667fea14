using System.Buffers;
using HyperGate.Http2;

namespace HyperGate.Tests.Http2;

/// <summary>RFC 9113 §4.1 and §6: frame headers and the frames the gateway writes itself, byte by byte.</summary>
public sealed class FrameTests
{
    private static byte[] Written(Action<ArrayBufferWriter<byte>> write)
    {
        var output = new ArrayBufferWriter<byte>();
        write(output);
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public void AFrameHeader_RoundTrips_AndIgnoresTheReservedBit()
    {
        byte[] bytes = new byte[FrameHeader.Size];
        new FrameHeader(16_777_215, FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStreamOrAck, int.MaxValue).Write(bytes);
        Assert.Equal("ffffff0105" + "7fffffff", Convert.ToHexStringLower(bytes));

        bytes[5] |= 0x80; // §4.1: the reserved bit is ignored on receipt.
        Assert.Equal(new FrameHeader(16_777_215, FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStreamOrAck, int.MaxValue), FrameHeader.Read(bytes));
    }

    [Fact]
    public void AHeaderSplitOverSegments_ReadsTheSame()
    {
        var first = new Segment(new byte[] { 0, 0, 4 });
        Segment last = first.Append(new byte[] { 8, 0, 0, 0, 0, 3 });
        var sequence = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        Assert.Equal(new FrameHeader(4, FrameType.WindowUpdate, FrameFlags.None, 3), FrameHeader.Read(sequence));
    }

    [Fact]
    public void ControlFrames_AreWrittenAsSection6Says()
    {
        Assert.Equal("000006040000000000" + "000300000064",
            Convert.ToHexStringLower(Written(o => FrameWriter.WriteSettings(o, [(SettingId.MaxConcurrentStreams, 100)]))));
        Assert.Equal("000000040100000000", Convert.ToHexStringLower(Written(FrameWriter.WriteSettingsAck)));
        Assert.Equal("000008060100000000" + "0102030405060708", Convert.ToHexStringLower(Written(o => FrameWriter.WritePing(o, [1, 2, 3, 4, 5, 6, 7, 8], ack: true))));
        Assert.Equal("000004080000000005" + "00010000", Convert.ToHexStringLower(Written(o => FrameWriter.WriteWindowUpdate(o, 5, 65_536))));
        Assert.Equal("000004030000000007" + "00000008", Convert.ToHexStringLower(Written(o => FrameWriter.WriteRstStream(o, 7, Http2ErrorCode.Cancel))));
        Assert.Equal("000008070000000000" + "00000009" + "0000000b", Convert.ToHexStringLower(Written(o => FrameWriter.WriteGoAway(o, 9, Http2ErrorCode.EnhanceYourCalm))));
        Assert.Equal("000003000100000001", Convert.ToHexStringLower(Written(o => FrameWriter.WriteDataHeader(o, 1, 3, endStream: true))));
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
