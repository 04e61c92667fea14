using System.Buffers;

namespace HyperGate.Http1;

/// <summary>Where rendered bytes go: a head being written (<see cref="HeadWriter"/>) or any buffer writer (<see cref="BufferSpanWriter"/>).</summary>
public interface ISpanWriter
{
    void Write(scoped ReadOnlySpan<byte> value);

    /// <summary>At least <paramref name="size"/> bytes to write into directly, then <see cref="Advance"/>.</summary>
    Span<byte> GetSpan(int size);

    void Advance(int count);
}

/// <summary>An <see cref="ISpanWriter"/> over an <see cref="IBufferWriter{T}"/> (a body being built).</summary>
public readonly struct BufferSpanWriter(IBufferWriter<byte> output) : ISpanWriter
{
    public void Write(scoped ReadOnlySpan<byte> value) => output.Write(value);

    public Span<byte> GetSpan(int size) => output.GetSpan(size);

    public void Advance(int count) => output.Advance(count);
}
