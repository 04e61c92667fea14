using System.IO.Pipelines;

namespace HyperGate.Transport;

/// <summary>
/// A writer that can send bytes it does not own: what the socket takes goes straight from the caller's memory and only
/// the rest is copied. A body forwarded as it arrives then crosses from one connection's buffer to the other's socket
/// without a copy in between.
/// </summary>
public interface IDirectSendWriter
{
    /// <summary>As writing <paramref name="data"/> and flushing; <paramref name="data"/> may be released once this returns.</summary>
    ValueTask<FlushResult> SendAndFlushAsync(ReadOnlyMemory<byte> data);
}
