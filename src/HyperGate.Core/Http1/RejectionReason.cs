namespace HyperGate.Http1;

/// <summary>Every reason the gateway answers a request itself with an error instead of proxying it.</summary>
public enum RejectionReason : byte
{
    None = 0,

    // Request line (RFC 9112 §3)
    InvalidRequestLine,
    InvalidMethod,
    InvalidRequestTarget,
    RequestTargetTooLong,
    UnsupportedHttpVersion,
    ConnectNotSupported,

    // Header section (RFC 9112 §5, RFC 9110 §5)
    InvalidHeaderName,
    InvalidHeaderValue,
    ObsoleteLineFolding,
    BareLineFeed,
    BareCarriageReturn,
    HeadTooLarge,
    TooManyHeaders,
    HeaderFieldTooLarge,
    MissingHost,
    MultipleHost,
    InvalidHost,
    UnsupportedExpectation,

    // Framing (RFC 9112 §6)
    InvalidContentLength,
    ConflictingContentLength,
    ContentLengthWithTransferEncoding,
    InvalidTransferEncoding,
    UnsupportedTransferEncoding,
    TransferEncodingOnHttp10,
    InvalidChunkedBody,
    BodyTooLarge,
    BodyTooSlow,

    // Path (see PathNormalizer)
    InvalidPercentEncoding,
    EncodedNul,
    EncodedSlash,

    // Routing
    NoRoute,
    MethodNotAllowed,
    MisdirectedRequest,
    HttpsRedirect,

    // Policies
    IpDenied,
    ClientCertificateRequired,
    CorsRejected,
    Unauthorized,
    Forbidden,
    RateLimited,
    RateLimitUnavailable,

    // Request body steps
    /// <summary>The request body is not the JSON its type says; answered with a problem document saying where.</summary>
    InvalidJsonBody,

    /// <summary>The request body does not decode as its Content-Encoding says.</summary>
    InvalidContentEncoding,

    /// <summary>The request does not match the route's schema or API description; answered with a problem document listing why.</summary>
    ValidationFailed,

    /// <summary>The request names an API version the route does not have, or none where it needs one.</summary>
    UnknownVersion,

    /// <summary>The API version reached its sunset (RFC 8594) and is no longer served.</summary>
    VersionGone,

    // Cache
    /// <summary>RFC 9111 §5.2.1.7: only-if-cached, and nothing stored could answer.</summary>
    NotCached,

    // Upstream
    NoDestination,
    UpstreamConnectFailed,
    UpstreamTlsFailed,
    UpstreamConnectTimeout,
    UpstreamResponseTimeout,
    UpstreamInvalidResponse,
    UpstreamClosed,

    /// <summary>The response body a body step needed whole was chunked and longer than the step's bound.</summary>
    UpstreamResponseTooLarge,

    /// <summary>A body step found the response body unusable (not the JSON its type says).</summary>
    UpstreamInvalidBody,
    CircuitOpen,
    UpstreamOverloaded,

    // Downstream
    RequestHeadTimeout,

    /// <summary>Not a rejection: the client closed the connection between requests.</summary>
    ConnectionEnded,
}
