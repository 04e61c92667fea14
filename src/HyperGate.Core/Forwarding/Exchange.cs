using System.IO.Pipelines;
using System.Net;
using System.Text;
using HyperGate.Diagnostics;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Pipeline;
using HyperGate.RateLimiting;
using HyperGate.Routing;
using HyperGate.Security;
using HyperGate.Tls;
using HyperGate.Upstreams;

namespace HyperGate.Forwarding;

/// <summary>
/// One request/response exchange on a downstream connection. The object is attached to a connection, reset for
/// every request, and reused by later connections, so nothing here is allocated per request or per connection.
/// </summary>
public sealed class Exchange : IDisposable
{
    /// <summary>Room for any address as text (an IPv6 address with a scope), and for "unknown".</summary>
    private readonly byte[] _clientAddress = new byte[64];
    private int _clientAddressLength;
    private readonly byte[] _requestId = new byte[RequestIdSettings.MaxLength];
    private int _requestIdLength;
    private GrpcStatusReader? _grpcStatusReader;

    public Exchange()
    {
    }

    public Exchange(PipeReader input, PipeWriter output, IPAddress? peerAddress, bool isHttps) => Attach(input, output, peerAddress, isHttps);

    /// <summary>Downstream bytes, positioned after the request head once it is parsed.</summary>
    public PipeReader Input { get; private set; } = null!;

    public PipeWriter Output { get; private set; } = null!;

    /// <summary>The address of the connection's peer (a client, or a proxy in front of us).</summary>
    public IPAddress? PeerAddress { get; private set; }

    /// <summary>The peer's address as ASCII, formatted once per connection.</summary>
    public ReadOnlySpan<byte> ClientAddress => _clientAddress.AsSpan(0, _clientAddressLength);

    /// <summary>Starts serving a new downstream connection.</summary>
    public void Attach(PipeReader input, PipeWriter output, IPAddress? peerAddress, bool isHttps)
    {
        Input = input;
        Output = output;
        PeerAddress = peerAddress;
        IsHttps = isHttps;
        IsHttp2 = false;
        CloseRequested = false;
        if (peerAddress is null || !peerAddress.TryFormat(_clientAddress, out _clientAddressLength))
        {
            "unknown"u8.CopyTo(_clientAddress);
            _clientAddressLength = "unknown".Length;
        }
    }

    /// <summary>The connection ended: nothing of it or of its last request stays referenced while the object waits for the next one.</summary>
    public void Detach()
    {
        ClearRequest();
        Request.Reset();
        Snapshot = null!;
        Input = null!;
        Output = null!;
        PeerAddress = null;
    }

    /// <summary>
    /// The authenticated caller, set by authentication; null for anonymous requests. Rate limits keyed on the
    /// consumer use the client address while this is null.
    /// </summary>
    public Identity? Identity { get; set; }

    /// <summary>Why authentication refused the current request (for the access log; the client sees only 401/403).</summary>
    public AuthFailure AuthFailure { get; set; }

    /// <summary>The rate limits applied to the current request, and the header fields they add to its response.</summary>
    public RateLimitOutcome RateLimits { get; } = new();

    /// <summary>The CORS policy whose fields the response carries: set when the request came from an allowed origin.</summary>
    public CorsPolicy? Cors { get; set; }

    /// <summary>The client's address: the peer's, or the one trusted proxies name (see <see cref="TrustedProxies"/>).</summary>
    public IPAddress? ClientIp(TrustedProxies proxies) =>
        proxies.IsEmpty ? PeerAddress : IPAddress.TryParse(proxies.ClientAddress(this), out IPAddress? address) ? address : PeerAddress;

    /// <summary>State a request step hands to the later phases of this exchange; ended with the exchange.</summary>
    public IPhaseState? PhaseState { get; set; }

    /// <summary>Receives a copy of the forwarded response body (set by a response-head step), or null.</summary>
    public IBodySink? ResponseBodySink { get; set; }

    /// <summary>Whole field lines a step adds to the response this request gets (Cache-Status), or null.</summary>
    public byte[]? ResponseFields { get; set; }

    /// <summary>
    /// Whole field lines a request step adds to every response this request gets, the gateway's errors included
    /// (an API version's Deprecation and Sunset), or null. Unlike <see cref="ResponseFields"/>, never replaced.
    /// </summary>
    public byte[]? RouteFields { get; private set; }

    public void AddRouteFields(ReadOnlySpan<byte> lines) => RouteFields = RouteFields is null ? lines.ToArray() : [.. RouteFields, .. lines];

    /// <summary>The upstream a request step chose for this request (an API version's), or null for the route's own.</summary>
    public Upstream? ChosenUpstream { get; set; }

    /// <summary>The prefix a request step chose to replace the route's matched prefix upstream (an API version's), or null.</summary>
    public byte[]? ChosenPrefix { get; set; }

    /// <summary>A range of the normalized path the upstream does not see (an API version's path segment); length 0 when none.</summary>
    public (int Start, int Length) UpstreamPathCut { get; private set; }

    public void CutUpstreamPath(int start, int length) => UpstreamPathCut = (start, length);

    /// <summary>Adds whole field lines to <see cref="ResponseFields"/> (a step's, beside any another step added).</summary>
    public void AddResponseFields(ReadOnlySpan<byte> lines) => ResponseFields = [.. ResponseFields ?? [], .. lines];

    /// <summary>
    /// The response's body is not the one the upstream sent (transformed, compressed): a strong ETag becomes weak
    /// (RFC 9110 §8.8.3), its field dropped and the weak form added to <see cref="ResponseFields"/>.
    /// </summary>
    public void WeakenETag(ResponseHead response)
    {
        for (int i = 0; i < response.HeaderCount; i++)
        {
            ref HeaderField field = ref response.HeaderAt(i);
            if (field.Dropped || !Ascii.EqualsIgnoreCase(response.NameOf(field), "etag"u8) || response.ValueOf(field).StartsWith("W/"u8))
            {
                continue;
            }

            field.Dropped = true;
            AddResponseFields([.. "ETag: W/"u8, .. response.ValueOf(field), .. "\r\n"u8]);
        }
    }

    /// <summary>Whole field lines a step adds to the request sent upstream (a cache's validators), or null.</summary>
    public byte[]? UpstreamFields { get; set; }

    /// <summary>The request's id: the one the client sent (see <see cref="RequestIdSettings"/>), else its trace id.</summary>
    public ReadOnlySpan<byte> RequestId => _requestIdLength > 0 ? _requestId.AsSpan(0, _requestIdLength) : Trace.TraceId;

    /// <summary>Keeps a copy of a valid id the client sent (the head's buffer is reused by the next request).</summary>
    public void SetRequestId(ReadOnlySpan<byte> id)
    {
        id.CopyTo(_requestId);
        _requestIdLength = id.Length;
    }

    /// <summary>Ends the phases' state of the request; called once per request, however it ended.</summary>
    public void EndPhases()
    {
        IPhaseState? state = PhaseState;
        PhaseState = null;
        state?.End();
    }

    /// <summary>The fields the gateway's policies add to whatever response this request gets.</summary>
    public void WriteGatewayFields(ref HeadWriter output)
    {
        if (ResponseFields is { } fields)
        {
            output.Write(fields);
        }

        if (RouteFields is { } routeFields)
        {
            output.Write(routeFields);
        }

        RateLimits.WriteFields(ref output);
        Cors?.WriteResponseFields(ref output, Request);
        Snapshot?.RequestId?.WriteField(ref output, this);

        // RFC 6797 §7.2: only over a secure transport.
        if (IsHttps && Snapshot?.Config.Tls.StrictTransportSecurity is { } hsts)
        {
            output.Write(hsts);
        }
    }

    public bool IsHttps { get; private set; }

    /// <summary>The request came on an HTTP/2 stream (its head was given the one form every protocol shares).</summary>
    public bool IsHttp2 { get; set; }

    /// <summary>A gRPC call (see <see cref="GrpcCalls"/>): the gateway's own errors are gRPC statuses.</summary>
    public bool IsGrpc { get; set; }

    /// <summary>The grpc-status the client got (the gateway's own, or the service's as forwarded), or -1.</summary>
    public int GrpcStatus { get; set; } = -1;

    /// <summary>Reads the service's grpc-status from a forwarded response (made once, for the first gRPC call).</summary>
    internal GrpcStatusReader GrpcStatusReader => _grpcStatusReader ??= new GrpcStatusReader(this);

    /// <summary>The protocol the client spoke, as the access log names it.</summary>
    public string Protocol => IsHttp2 ? "HTTP/2" : Request.Version == Http1.HttpVersion.Http10 ? "HTTP/1.0" : "HTTP/1.1";

    /// <summary>The Date line for responses the gateway writes itself.</summary>
    public DateHeader Date { get; set; } = null!;

    /// <summary>After the gateway answers a request itself: whether the connection can carry the next one.</summary>
    public bool CanKeepAliveAfterAnswer() => Request.KeepAlive && !Request.HasBody && !CloseRequested;

    /// <summary>The connection's TLS session (certificate presented, version, cipher); null on plain HTTP.</summary>
    public TlsConnection? Tls { get; set; }

    public RequestHead Request { get; } = new();

    public Route? Route { get; set; }

    public GatewaySnapshot Snapshot { get; set; } = null!;

    /// <summary>The trace this request belongs to (see <see cref="TraceContext"/>).</summary>
    public TraceContext Trace { get; } = new();

    /// <summary>When the request head was parsed (a <see cref="TimeProvider"/> timestamp).</summary>
    public long StartTimestamp { get; set; }

    /// <summary>When the request head was sent upstream; 0 when the request was not forwarded.</summary>
    public long UpstreamStartTimestamp { get; set; }

    /// <summary>When the upstream's response head arrived; 0 when none did.</summary>
    public long UpstreamEndTimestamp { get; set; }

    /// <summary>The status the client was sent; 0 while no response was written.</summary>
    public int Status { get; set; }

    /// <summary>Why the gateway answered itself, or None.</summary>
    public RejectionReason Rejection { get; set; }

    /// <summary>Request body bytes read from the client (sent upstream).</summary>
    public long RequestBodyBytes { get; set; }

    /// <summary>Response body bytes sent to the client.</summary>
    public long ResponseBodyBytes { get; set; }

    /// <summary>The destination the request was forwarded to, if any.</summary>
    public Destination? Destination { get; set; }

    /// <summary>The upstream the request went to: the route's, one of its split, or its fallback.</summary>
    public Upstream? Upstream { get; set; }

    /// <summary>The upstream's name for logs and metrics: where the request went, or else where its route points.</summary>
    public string? UpstreamName => Upstream?.Name ?? Route?.Upstream?.Name;

    /// <summary>How many times the request was tried again.</summary>
    public int Retries { get; set; }

    /// <summary>The request body, when the route's <c>body_buffer</c> had it read whole before forwarding.</summary>
    public byte[]? BufferedBody { get; set; }

    /// <summary>True when the body is streamed from the client as it is forwarded: it cannot be sent twice.</summary>
    public bool BodyStreams => Request.HasBody && BufferedBody is null;

    /// <summary>Clears what the previous request on this connection left, before the next one is read.</summary>
    public void BeginRequest(GatewaySnapshot snapshot)
    {
        ClearRequest();
        Snapshot = snapshot;
    }

    private void ClearRequest()
    {
        Route = null;
        IsGrpc = false;
        GrpcStatus = -1;
        RateLimits.Clear();
        Identity = null;
        AuthFailure = AuthFailure.None;
        Cors = null;
        StartTimestamp = UpstreamStartTimestamp = UpstreamEndTimestamp = 0;
        Status = 0;
        Rejection = RejectionReason.None;
        RequestBodyBytes = ResponseBodyBytes = 0;
        Destination = null;
        Upstream = null;
        Retries = 0;
        BufferedBody = null;
        PhaseState = null;
        ResponseBodySink = null;
        ResponseFields = null;
        UpstreamFields = null;
        _requestIdLength = 0;
        RouteFields = null;
        ChosenUpstream = null;
        ChosenPrefix = null;
        UpstreamPathCut = default;
    }

    /// <summary>Set when the gateway is shutting down: the response says "Connection: close".</summary>
    public bool CloseRequested { get; set; }

    /// <summary>
    /// Writes the gateway's own error response, with <paramref name="field"/> (a whole field line such as Allow
    /// or WWW-Authenticate) when given. Returns whether the connection can carry another request: not
    /// after a malformed head (the framing of what follows is unknown), nor with a request body left unread.
    /// </summary>
    public bool Reject(RejectionReason reason, ReadOnlySpan<byte> dateLine, bool bodyUnread, byte[]? field = null)
    {
        bool recoverable = reason is RejectionReason.NoRoute or RejectionReason.MethodNotAllowed or RejectionReason.MisdirectedRequest or RejectionReason.HttpsRedirect or RejectionReason.NoDestination
            or RejectionReason.IpDenied or RejectionReason.ClientCertificateRequired or RejectionReason.CorsRejected or RejectionReason.Unauthorized or RejectionReason.Forbidden or RejectionReason.RateLimited or RejectionReason.RateLimitUnavailable or RejectionReason.NotCached
            or RejectionReason.UpstreamConnectFailed or RejectionReason.UpstreamTlsFailed or RejectionReason.UpstreamConnectTimeout or RejectionReason.UpstreamResponseTimeout
            or RejectionReason.UpstreamInvalidResponse or RejectionReason.UpstreamClosed or RejectionReason.UpstreamResponseTooLarge or RejectionReason.UpstreamInvalidBody
            or RejectionReason.BodyTooLarge or RejectionReason.InvalidJsonBody or RejectionReason.InvalidContentEncoding;
        bool keepAlive = recoverable && Request.KeepAlive && !bodyUnread && !CloseRequested;
        Rejection = reason;
        Status = GatewayResponses.Describe(reason).Status;
        if (IsGrpc)
        {
            GrpcStatus = GrpcCalls.StatusFor(Status);
            Status = 200;
        }

        GatewayResponses.WriteError(Output, reason, !keepAlive, dateLine, field, this, GatewayResponses.DetailedErrorBody(reason, Request));
        return keepAlive;
    }

    public void Dispose() => Request.Dispose();
}
