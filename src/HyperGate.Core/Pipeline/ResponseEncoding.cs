using System.IO.Pipelines;
using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Pipeline;

/// <summary>
/// The response-head phase's encoding choice (compression): for a response it takes, the body streams through an
/// <see cref="EncodedBody"/> and goes to the client chunked. Called before the head is written; the step adds its
/// fields (Content-Encoding, Vary) to the exchange's response fields.
/// </summary>
public abstract class ResponseEncoding
{
    /// <summary>The encoder for this response's body, writing to <paramref name="output"/>; null when the body goes as it came.</summary>
    public abstract EncodedBody? Start(Exchange exchange, ResponseHead response, PipeWriter output);
}

/// <summary>A writer that encodes what is written into it and sends it on as chunks; <see cref="FinishAsync"/> ends the body.</summary>
public abstract class EncodedBody : PipeWriter
{
    /// <summary>Writes the encoder's last bytes and the chunked body's end, and flushes.</summary>
    public abstract ValueTask<FlushResult> FinishAsync();

    /// <summary>Bytes sent to the client so far (encoded, without chunk framing).</summary>
    public abstract long EncodedBytes { get; }
}
