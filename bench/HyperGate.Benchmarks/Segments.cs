using System.Buffers;

namespace HyperGate.Benchmarks;

/// <summary>Splits bytes into a multi-segment sequence, as a pipe delivers data that crossed a buffer boundary.</summary>
internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> SplitInto(byte[] data, int count)
    {
        int size = (data.Length + count - 1) / count;
        var first = new Segments(data.AsMemory(0, Math.Min(size, data.Length)), 0);
        Segments last = first;
        for (int offset = size; offset < data.Length; offset += size)
        {
            var next = new Segments(data.AsMemory(offset, Math.Min(size, data.Length - offset)), offset);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
