using System.Buffers;

namespace HyperGate.Tests.Http1;

/// <summary>Builds a <see cref="ReadOnlySequence{T}"/> from several segments, as a pipe would deliver them.</summary>
internal sealed class SegmentedSequence : ReadOnlySequenceSegment<byte>
{
    private SegmentedSequence(ReadOnlyMemory<byte> memory) => Memory = memory;

    public static ReadOnlySequence<byte> Create(params byte[][] segments)
    {
        if (segments.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new SegmentedSequence(segments[0]);
        SegmentedSequence last = first;
        foreach (byte[] segment in segments.Skip(1))
        {
            var next = new SegmentedSequence(segment) { RunningIndex = last.RunningIndex + last.Memory.Length };
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>One segment per byte: the worst case for a parser.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(byte[] data) => Create(data.Select(b => new[] { b }).ToArray());
}
