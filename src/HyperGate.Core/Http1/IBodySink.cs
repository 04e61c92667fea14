using System.Buffers;

namespace HyperGate.Http1;

/// <summary>Receives a copy of a response body's data as it is forwarded (chunk framing removed): a cache storing it.</summary>
public interface IBodySink
{
    void Append(in ReadOnlySequence<byte> data);

    /// <summary>The body ended: whole (<paramref name="complete"/>), or cut short.</summary>
    void Complete(bool complete);
}
