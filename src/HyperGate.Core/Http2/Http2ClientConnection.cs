using System.Buffers;
using System.Net;
using HyperGate.Http2.Hpack;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Http2;

/// <summary>
/// A connection to an HTTP/2 upstream (h2 over TLS, or h2c by prior knowledge): the gateway as the client, many
/// forwarded exchanges multiplexed as streams (<see cref="UpstreamStream"/>). A PING goes out every ping interval;
/// a connection whose previous PING was not answered by then is taken for dead and closed. On the upstream's
/// GOAWAY it takes no new stream, and the streams the upstream says it never processed end without a response, so
/// that the forwarder may send them again on another connection.
/// </summary>
internal sealed class Http2ClientConnection : Http2Session
{
    private readonly ConnectionContext _transport;
    private readonly FieldSection _fields = new();

    /// <summary>Streams whose exchange ended cleanly, for this connection's next ones (under the session's lock).</summary>
    private readonly Stack<UpstreamStream> _idleStreams = new();
    private readonly bool _https;
    private readonly TimeSpan _idleTimeout;
    private readonly ITimer? _ping;
    private bool _pingOutstanding;

    private Http2ClientConnection(ConnectionContext transport, Http2Settings settings, bool https, TimeProvider time, TimeSpan idleTimeout, TimeSpan pingInterval)
        : base(transport.Transport.Input, transport.Transport.Output, settings, time, count: null)
    {
        _transport = transport;
        _https = https;

        // Until the upstream's SETTINGS say otherwise: the least RFC 9113 §6.5.2 recommends servers allow. Assuming
        // no limit would send streams a busy server refuses.
        PeerMaxConcurrentStreams = 100;
        _idleTimeout = idleTimeout;
        if (pingInterval > TimeSpan.Zero)
        {
            _ping = time.CreateTimer(static state => ((Http2ClientConnection)state!).OnPingTimer(), this, pingInterval, pingInterval);
        }
    }

    protected override TimeSpan IdleTimeout => _idleTimeout;

    public EndPoint? RemoteEndPoint => _transport.RemoteEndPoint;

    /// <summary>Open streams.</summary>
    public int ActiveStreams
    {
        get
        {
            lock (Sync)
            {
                return Streams.Count;
            }
        }
    }

    /// <summary>Takes new streams: not closed, not going away.</summary>
    public bool IsUsable => !Closed && !GoingAway;

    /// <summary>Starts the connection: the preface and SETTINGS go out, and its frame loop runs.</summary>
    public static async Task<Http2ClientConnection> StartAsync(ConnectionContext transport, Http2Settings settings, bool https, TimeProvider time, TimeSpan idleTimeout, TimeSpan pingInterval)
    {
        var connection = new Http2ClientConnection(transport, settings, https, time, idleTimeout, pingInterval);

        // §3.4: the client preface, then SETTINGS; the gateway takes no pushed streams (§8.4).
        connection.Output.Write(FrameWriter.ClientPreface);
        connection.WriteLocalSettings(
        [
            (SettingId.EnablePush, 0),
            (SettingId.InitialWindowSize, (uint)settings.InitialWindowSize),
            (SettingId.MaxHeaderListSize, (uint)settings.MaxHeaderListSize),
        ]);
        await connection.FlushControlAsync();
        _ = connection.RunAsync();
        return connection;
    }

    /// <summary>
    /// Opens a stream for one exchange; false when the connection takes none now (closed, going away, or at the
    /// upstream's limit). The stream gets its id when its HEADERS frame is written (<see cref="TryAssignId"/>): ids
    /// must reach the upstream in increasing order (RFC 9113 §5.1.1), and streams race for the output.
    /// </summary>
    public bool TryOpenStream(out UpstreamStream? stream)
    {
        lock (Sync)
        {
            stream = null;
            if (!IsUsable || Streams.Count + _unsent >= PeerMaxConcurrentStreams || LastStreamId + 2 * _unsent >= int.MaxValue - 2)
            {
                return false;
            }

            _unsent++;
            Opened++;
            if (_idleStreams.TryPop(out stream))
            {
                stream.Reuse(Settings.InitialWindowSize);
            }
            else
            {
                stream = new UpstreamStream(this, 0, Settings.InitialWindowSize, _https);
            }
        }

        stream.Start();
        return true;
    }

    /// <summary>Streams opened whose HEADERS have not gone yet: they count against the upstream's limit.</summary>
    private int _unsent;

    /// <summary>Under the write lock, as a stream's first HEADERS is written: the next id is its own.</summary>
    protected override bool TryAssignId(Http2Stream stream)
    {
        lock (Sync)
        {
            _unsent--;
            if (!IsUsable)
            {
                ((UpstreamStream)stream).Unprocessed = true;
                stream.AbortIncoming();
                return false;
            }

            int id = LastStreamId == 0 ? 1 : LastStreamId + 2;
            LastStreamId = id;
            stream.AssignId(id);
            Streams[id] = stream;
            stream.SendWindow = PeerInitialWindow;
        }

        return true;
    }

    /// <summary>How many streams this connection carried before the newest.</summary>
    public int StreamsBefore => Math.Max(0, Opened - 1);

    /// <summary>A response's header block: its head (or an interim one) for the stream's forwarder.</summary>
    protected override Http2ErrorCode OnHeadBlock(int streamId, Http2Stream? stream, ReadOnlySpan<byte> block, bool endStream, bool selfDependent)
    {
        _fields.Begin(Settings.MaxHeaderListSize, SectionKind.Response);
        if (Decoder.Decode(block, _fields) != HpackResult.Ok)
        {
            return Http2ErrorCode.CompressionError;
        }

        if ((streamId & 1) == 0 || streamId > LastStreamId)
        {
            return Http2ErrorCode.ProtocolError; // §5.1.1: a stream the gateway never opened.
        }

        if (stream is not UpstreamStream upstream)
        {
            if (!WasReset(streamId))
            {
                ResetStream(streamId, Http2ErrorCode.StreamClosed);
            }

            return Http2ErrorCode.NoError;
        }

        if (!_fields.TryCompleteResponse(bodyFollows: !endStream, upstream.HeadRequest, out ReadOnlyMemory<byte> head))
        {
            // A malformed response (RFC 9113 §8.1.1) reaches no client: the forwarder sees the upstream fail.
            ResetStream(upstream, Http2ErrorCode.ProtocolError);
            return Http2ErrorCode.NoError;
        }

        bool interim = _fields.Status < 200;
        if (interim && endStream)
        {
            ResetStream(upstream, Http2ErrorCode.ProtocolError); // §8.1: an interim response cannot end the stream.
            return Http2ErrorCode.NoError;
        }

        upstream.EndStreamReceived = endStream;
        upstream.OnResponseHead(head.Span, interim, endStream, _fields.ContentLength);
        return Http2ErrorCode.NoError;
    }

    /// <summary>§6.8: streams past the last one the upstream took were not processed: they end with no response.</summary>
    protected override void OnPeerGoAway(int lastStreamId)
    {
        GoingAway = true;
        lock (Sync)
        {
            foreach (Http2Stream stream in Streams.Values)
            {
                if (stream.Id > lastStreamId && stream is UpstreamStream upstream)
                {
                    upstream.Unprocessed = true;
                    upstream.AbortIncoming();
                }
            }
        }
    }

    /// <summary>§8.7: a stream refused before the upstream processed it may be sent again.</summary>
    protected override Http2ErrorCode OnPeerReset(Http2Stream stream, Http2ErrorCode error)
    {
        if (error == Http2ErrorCode.RefusedStream && stream is UpstreamStream upstream)
        {
            upstream.Unprocessed = true;
        }

        return Http2ErrorCode.NoError;
    }

    /// <summary>
    /// A stream left: one that ended cleanly is kept for a later exchange (returns true); when the connection goes
    /// away and no stream is left, its loop ends.
    /// </summary>
    public bool OnStreamReleased(UpstreamStream stream, bool reusable)
    {
        lock (Sync)
        {
            if (stream.Id == 0)
            {
                _unsent--; // released before its HEADERS went
            }

            Streams.Remove(stream.Id);
            bool kept = reusable && IsUsable && _idleStreams.Count < PeerMaxConcurrentStreams;
            if (kept)
            {
                _idleStreams.Push(stream);
            }

            if (Streams.Count == 0 && (GoingAway || CloseRequested))
            {
                Input.CancelPendingRead();
            }

            return kept;
        }
    }

    protected override void OnPingAck() => Volatile.Write(ref _pingOutstanding, false);

    private void OnPingTimer()
    {
        if (Closed)
        {
            return;
        }

        if (Volatile.Read(ref _pingOutstanding))
        {
            // No answer in a whole interval: the upstream (or the path to it) is gone.
            Closed = true;
            _transport.Abort();
            return;
        }

        Volatile.Write(ref _pingOutstanding, true);
        SendPing();
    }

    /// <summary>Closes gracefully: GOAWAY, the streams in flight finish, then the connection ends.</summary>
    public void RequestClose()
    {
        CloseRequested = true;
        Input.CancelPendingRead();
    }

    private async Task RunAsync()
    {
        try
        {
            await ServeFramesAsync();
        }
        finally
        {
            _ping?.Dispose();
            await EndStreamsAsync();
            _transport.Abort();
            await _transport.DisposeAsync();
        }
    }
}
