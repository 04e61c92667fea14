namespace HyperGate.Http2;

/// <summary><c>[http2]</c>: HTTP/2 at the edge, and the limits each connection's client gets.</summary>
/// <param name="Enabled">ALPN offers h2 on TLS listeners.</param>
/// <param name="H2c">Plain listeners accept HTTP/2 by prior knowledge (a connection that starts with the client preface).</param>
/// <param name="MaxConcurrentStreams">SETTINGS_MAX_CONCURRENT_STREAMS: streams a client may have open at once.</param>
/// <param name="InitialWindowSize">SETTINGS_INITIAL_WINDOW_SIZE: request body bytes a stream may send before the gateway has read them.</param>
/// <param name="ConnectionWindowSize">The connection's receive window, over all its streams.</param>
/// <param name="MaxHeaderListSize">SETTINGS_MAX_HEADER_LIST_SIZE: a request's decoded fields, 32 bytes per field counted.</param>
/// <param name="MaxResets">Streams a client may cancel before it has had as many answered, before the connection is closed (CVE-2023-44487).</param>
/// <param name="MaxControlFrames">SETTINGS, PING and empty DATA frames a client may send, beyond one per stream it opened, before the connection is closed.</param>
/// <param name="SendTimeout">How long a response may wait for the client to open its flow-control window.</param>
public sealed record Http2Settings(
    bool Enabled,
    bool H2c,
    int MaxConcurrentStreams,
    int InitialWindowSize,
    int ConnectionWindowSize,
    int MaxHeaderListSize,
    int MaxResets,
    int MaxControlFrames,
    TimeSpan SendTimeout)
{
    /// <summary>The header table size the gateway's decoder keeps (the protocol's default; SETTINGS_HEADER_TABLE_SIZE is not changed).</summary>
    public const int HeaderTableSize = 4096;

    public static Http2Settings Default { get; } = new(true, false, 100, 256 * 1024, 1024 * 1024, 32 * 1024, 100, 1000, TimeSpan.FromSeconds(30));
}
