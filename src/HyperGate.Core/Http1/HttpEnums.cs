namespace HyperGate.Http1;

/// <summary>Request methods the gateway recognizes by value; anything else that is a valid token is <see cref="Other"/>.</summary>
public enum HttpMethod : byte
{
    Other = 0,
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Trace,
    Connect,
}

public enum HttpVersion : byte
{
    Http10,
    Http11,
}

/// <summary>How a message body is delimited (RFC 9112 §6.3).</summary>
public enum BodyFraming : byte
{
    None,
    ContentLength,
    Chunked,
    /// <summary>Response body delimited by the upstream closing the connection.</summary>
    UntilClose,
}

public enum ParseStatus : byte
{
    Incomplete,
    Complete,
    Rejected,
}

/// <summary>Header fields the gateway interprets or removes; everything else is forwarded untouched.</summary>
public enum KnownHeader : byte
{
    None = 0,
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    KeepAlive,
    ProxyConnection,
    ProxyOther,
    Te,
    Trailer,
    Upgrade,
    Expect,
    XForwardedFor,
    XForwardedProto,
    XForwardedHost,
    Http2Settings,
    Traceparent,
    ClientCert,
    ClientCertChain,
}

/// <summary>Offsets of one header field inside its head buffer.</summary>
public struct HeaderField
{
    public int NameStart;
    public int NameLength;
    public int ValueStart;
    public int ValueLength;
    public KnownHeader Known;

    /// <summary>True when the field must not be forwarded (hop-by-hop, framing, or set by the gateway itself).</summary>
    public bool Dropped;
}

/// <summary>Size limits applied while parsing a head, taken from the <c>[limits]</c> config section.</summary>
public readonly record struct HeadLimits(
    int MaxHeadSize,
    int MaxHeaderCount,
    int MaxRequestTargetLength,
    int MaxHeaderNameLength = 256,
    int MaxHeaderLineLength = 16 * 1024)
{
    public static HeadLimits Default { get; } = new(32 * 1024, 100, 8 * 1024);

    /// <summary>For upstream response heads, which may carry large cookies: more room than request heads get.</summary>
    public static HeadLimits UpstreamResponse { get; } = new(64 * 1024, 256, 0, MaxHeaderNameLength: 256, MaxHeaderLineLength: 64 * 1024);
}
