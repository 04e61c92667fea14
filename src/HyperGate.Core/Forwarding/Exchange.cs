using System.IO.Pipelines;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Routing;

namespace HyperGate.Forwarding;

/// <summary>
/// One request/response exchange on a downstream connection. The object lives as long as the connection and is
/// reset for every request, so nothing here is allocated per request.
/// </summary>
public sealed class Exchange : IDisposable
{
    public Exchange(PipeReader input, PipeWriter output, byte[] clientAddress, bool isHttps)
    {
        Input = input;
        Output = output;
        ClientAddress = clientAddress;
        IsHttps = isHttps;
    }

    /// <summary>Downstream bytes, positioned after the request head once it is parsed.</summary>
    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    /// <summary>The client's IP address as ASCII, formatted once per connection.</summary>
    public byte[] ClientAddress { get; }

    public bool IsHttps { get; }

    public RequestHead Request { get; } = new();

    public Route? Route { get; set; }

    public GatewaySnapshot Snapshot { get; set; } = null!;

    /// <summary>Set when the gateway is shutting down: the response says "Connection: close".</summary>
    public bool CloseRequested { get; set; }

    /// <summary>
    /// Writes the gateway's own error response. Returns whether the connection can carry another request: not
    /// after a malformed head (the framing of what follows is unknown), nor with a request body left unread.
    /// </summary>
    public bool Reject(RejectionReason reason, ReadOnlySpan<byte> dateLine, bool bodyUnread, string? allow = null)
    {
        bool recoverable = reason is RejectionReason.NoRoute or RejectionReason.MethodNotAllowed or RejectionReason.NoDestination
            or RejectionReason.UpstreamConnectFailed or RejectionReason.UpstreamConnectTimeout or RejectionReason.UpstreamResponseTimeout
            or RejectionReason.UpstreamInvalidResponse or RejectionReason.UpstreamClosed;
        bool keepAlive = recoverable && Request.KeepAlive && !bodyUnread && !CloseRequested;
        GatewayResponses.WriteError(Output, reason, !keepAlive, dateLine, allow);
        return keepAlive;
    }

    public void Dispose() => Request.Dispose();
}
