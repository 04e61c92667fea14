namespace HyperGate.Http2;

/// <summary>Why the gateway reset a stream or closed an HTTP/2 connection; counted as <c>hypergate_http2_errors_total{reason}</c>.</summary>
public enum Http2Event
{
    /// <summary>A frame broke the protocol (a connection error, RFC 9113 §5.4.1).</summary>
    ProtocolViolation,

    /// <summary>A request's fields broke RFC 9113 §8 (a stream reset with PROTOCOL_ERROR).</summary>
    MalformedRequest,

    /// <summary>A header block could not be decoded (COMPRESSION_ERROR).</summary>
    CompressionError,

    /// <summary>A client sent past a flow-control window.</summary>
    FlowControlViolation,

    /// <summary>A stream beyond SETTINGS_MAX_CONCURRENT_STREAMS was refused.</summary>
    StreamRefused,

    /// <summary>A header block grew past the bound (CONTINUATION flood, CVE-2024-27316).</summary>
    HeaderBlockTooLarge,

    /// <summary>More cancelled streams than answered ones (rapid reset, CVE-2023-44487).</summary>
    RapidReset,

    /// <summary>Too many SETTINGS, PING or empty DATA frames.</summary>
    ControlFrameFlood,

    /// <summary>A response waited past send_timeout for the client to open its window.</summary>
    SendTimeout,
}
