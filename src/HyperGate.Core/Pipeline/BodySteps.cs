using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Pipeline;

/// <summary>
/// A step of the request-body phase: it sees the whole request body (read before forwarding, up to the route's bound)
/// and may replace it, refuse the request, or answer it itself (a 400 problem document). The forwarded request then
/// carries the body's final length.
/// </summary>
public abstract class RequestBodyStep
{
    /// <summary>The largest body this step reads (a longer one is refused with 413 before it is read).</summary>
    public abstract long MaxSize { get; }

    /// <summary>Decides about the body; <paramref name="body"/> may be replaced.</summary>
    public abstract StepResult OnRequestBody(Exchange exchange, ref byte[] body);
}

/// <summary>What a response-body step made of a body.</summary>
public enum ResponseBodyVerdict : byte
{
    /// <summary>The body goes out as received.</summary>
    Unchanged,

    /// <summary>The step's body goes out instead.</summary>
    Replaced,

    /// <summary>The body is unusable: the client gets a 502.</summary>
    Failed,
}

/// <summary>
/// A step of the response-body phase: it takes the whole body of the responses it wants (up to its bound) and may
/// replace it, or fail the response. A response it does not want, or one larger than its bound, streams as usual.
/// </summary>
public abstract class ResponseBodyStep
{
    public abstract long MaxSize { get; }

    /// <summary>Whether this response's body is the step's to see (its type, status, encoding).</summary>
    public abstract bool Wants(Exchange exchange, ResponseHead response);

    public abstract ResponseBodyVerdict OnResponseBody(Exchange exchange, ResponseHead response, ReadOnlyMemory<byte> body, out ReadOnlyMemory<byte> replaced);

    /// <summary>The response is larger than <see cref="MaxSize"/>: true fails it (502), false lets it go out untouched.</summary>
    public virtual bool OnTooLarge(Exchange exchange) => false;
}
