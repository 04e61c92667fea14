using System.Buffers;

namespace HyperGate.Http1;

/// <summary>
/// Receives a copy of a response body's data as it is forwarded (chunk framing removed): a cache storing it, or
/// the gateway reading a gRPC call's status from the trailers.
/// </summary>
public interface IBodySink
{
    void Append(in ReadOnlySequence<byte> data);

    /// <summary>A chunked body's trailer section, valid and whole: field lines, each ended by CRLF.</summary>
    void Trailers(ReadOnlySpan<byte> section)
    {
    }

    /// <summary>The body ended: whole (<paramref name="complete"/>), or cut short.</summary>
    void Complete(bool complete);
}
