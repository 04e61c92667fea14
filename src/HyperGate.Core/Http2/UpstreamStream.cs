using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using HyperGate.Http1;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace HyperGate.Http2;

/// <summary>
/// A stream the gateway opened to an HTTP/2 upstream, for one forwarded exchange. The forwarder writes its request
/// in HTTP/1.1 form (sent here as HEADERS and DATA) and reads the response in HTTP/1.1 form (written here from the
/// response's frames: a body without a length chunk-framed, trailers as the chunked trailer section, so that gRPC's
/// grpc-status reaches the client).
/// </summary>
internal sealed class UpstreamStream : Http2Stream
{
    private static readonly HeadLimits ForwardedHead = new(256 * 1024, 1024, 64 * 1024, MaxHeaderNameLength: 1024, MaxHeaderLineLength: 128 * 1024);

    private readonly Http2ClientConnection _connection;
    private readonly RequestHead _requestHead = new();
    private readonly bool _https;
    private int _released;

    public UpstreamStream(Http2ClientConnection connection, int id, int receiveWindow, bool https)
        : base(connection, id, receiveWindow)
    {
        _connection = connection;
        _https = https;
    }

    /// <summary>The request is a HEAD: its response's length describes no body (RFC 9110 §9.3.2).</summary>
    public bool HeadRequest { get; private set; }

    /// <summary>The upstream said (GOAWAY) it never processed this stream: safe to send again elsewhere.</summary>
    public bool Unprocessed { get; set; }

    public void Start() => StartRelay();

    /// <summary>Which use of the stream this is: a lease of an earlier use can no longer release it.</summary>
    public int Use { get; private set; }

    /// <summary>A stream whose exchange ended cleanly serves the connection's next exchange.</summary>
    public void Reuse(int receiveWindow)
    {
        Reuse(Session, 0, receiveWindow);
        Use++;
        _released = 0;
        Unprocessed = false;
        HeadRequest = false;
    }

    /// <summary>A response head arrived, in HTTP/1.1 form; an interim one (1xx) leaves the final one to come.</summary>
    public void OnResponseHead(ReadOnlySpan<byte> head, bool interim, bool endStream, long contentLength)
    {
        if (!interim)
        {
            HeadReceived = true;
            ExpectedLength = contentLength;
            IncomingChunked = !endStream && contentLength < 0;
        }

        WriteIncoming(head, endStream);
    }

    /// <summary>
    /// The forwarder is done with the stream: one not ended both ways is reset (CANCEL), and it leaves its
    /// connection. Once: a second call does nothing.
    /// </summary>
    public async ValueTask ReleaseAsync(int use)
    {
        if (use != Use || Interlocked.Exchange(ref _released, 1) == 1)
        {
            return;
        }

        if (!Reset && EndStreamReceived && !OutgoingEnded)
        {
            // Answered before the request was whole (a gRPC service answers once it has its message): the gateway
            // ends its side rather than resetting a finished exchange, which many servers count as abuse (§8.1).
            await Session.EndOutgoingAsync(this);
        }
        else if (!(OutgoingEnded && EndStreamReceived) && !Reset)
        {
            Session.ResetStream(this, Http2ErrorCode.Cancel);
        }

        // Ended both ways, neither side reset: nothing of this exchange can arrive or leave any more.
        bool clean = !Reset && !Unprocessed && OutgoingEnded && EndStreamReceived;
        Cancel();
        await RelayedAsync();
        await CompletePipesAsync();
        if (!_connection.OnStreamReleased(this, reusable: clean))
        {
            _requestHead.Dispose();
        }
    }

    /// <summary>
    /// The forwarder's request head as HEADERS: the request line and Host become the pseudo-header fields
    /// (RFC 9113 §8.3.1), connection-specific fields are left out; gRPC gets the "te: trailers" it requires.
    /// </summary>
    protected override ParseStatus ParseOutgoingHead(in ReadOnlySequence<byte> buffer, out SequencePosition consumed, out OutgoingHead outgoing)
    {
        RequestHead head = _requestHead;
        outgoing = default;
        ParseStatus status = RequestHeadParser.TryParse(buffer, head, ForwardedHead, out consumed, out _, out _);
        if (status != ParseStatus.Complete)
        {
            return status;
        }

        HeadRequest = head.Method == HttpMethod.Head;
        int blockLength = AppendPseudoField(BeginBlock(), ":method"u8, head.MethodBytes);
        blockLength = AppendPseudoField(blockLength, ":scheme"u8, _https ? "https"u8 : "http"u8);
        blockLength = AppendPseudoField(blockLength, ":authority"u8, head.Host);
        blockLength = AppendPseudoField(blockLength, ":path"u8, head.Target);
        bool grpc = false;
        foreach (ref readonly HeaderField field in head.Headers)
        {
            ReadOnlySpan<byte> name = head.NameOf(field);
            if (IsConnectionSpecific(name) || System.Text.Ascii.EqualsIgnoreCase(name, "host"u8) || System.Text.Ascii.EqualsIgnoreCase(name, "te"u8))
            {
                continue;
            }

            ReadOnlySpan<byte> value = head.ValueOf(field);
            grpc |= System.Text.Ascii.EqualsIgnoreCase(name, "content-type"u8) && value.StartsWith("application/grpc"u8);
            blockLength = AppendField(blockLength, name, value);
        }

        if (grpc)
        {
            blockLength = AppendPseudoField(blockLength, "te"u8, "trailers"u8);
        }

        outgoing = new OutgoingHead(head.BodyFraming, head.ContentLength, Interim: false, blockLength);
        return status;
    }
}

/// <summary>An <see cref="UpstreamStream"/> as the connection the forwarder leases: its two pipes.</summary>
internal sealed class UpstreamStreamConnection(UpstreamStream stream, EndPoint? remote) : ConnectionContext, IDuplexPipe
{
    private readonly int _use = stream.Use;
    private IFeatureCollection? _features;
    private IDictionary<object, object?>? _items;

    public UpstreamStream Stream => stream;

    /// <summary>The upstream never processed this lease's stream (a later use of the stream does not count).</summary>
    public bool Unprocessed => stream.Use == _use && stream.Unprocessed;

    public PipeReader Input => stream.IncomingReader;

    public PipeWriter Output => stream.OutgoingWriter;

    public override IDuplexPipe Transport
    {
        get => this;
        set => throw new NotSupportedException();
    }

    public override string ConnectionId { get; set; } = string.Empty;

    public override IFeatureCollection Features => _features ??= new FeatureCollection();

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    public override EndPoint? RemoteEndPoint { get; set; } = remote;

    public override void Abort(ConnectionAbortedException abortReason) => _ = stream.ReleaseAsync(_use);

    public override void Abort() => _ = stream.ReleaseAsync(_use);

    public override ValueTask DisposeAsync() => stream.ReleaseAsync(_use);
}
