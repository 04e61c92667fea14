using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using HyperGate.Connection;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Http2.Hpack;
using HyperGate.Tls;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Http2;

/// <summary>
/// A downstream HTTP/2 connection: the gateway as the server. Each request stream runs through the exchange
/// pipeline (<see cref="ExchangeStream"/>); the pipelines are kept for the connection's later streams.
/// </summary>
internal sealed class Http2Connection : Http2Session
{
    /// <summary>The preface's first line: what tells a plain connection is HTTP/2 (the rest is checked as HTTP/2).</summary>
    public const int PrefaceLineLength = 16;

    private readonly GatewayRuntime _runtime;
    private readonly IPAddress? _peer;
    private readonly TlsConnection? _tls;
    private readonly FieldSection _fields = new();
    private readonly ExchangeStreamPool _streams;
    private int _resets;
    private int _answered;

    public Http2Connection(GatewayRuntime runtime, ExchangeStreamPool streams, Http2Settings settings, PipeReader input, PipeWriter output, IPAddress? peer, TlsConnection? tls)
        : base(input, output, settings, runtime.TimeProvider, runtime.Telemetry.Metrics.CountHttp2)
    {
        _runtime = runtime;
        _streams = streams;
        _peer = peer;
        _tls = tls;
    }

    protected override TimeSpan IdleTimeout => _runtime.Snapshot.Limits.KeepAliveTimeout;

    /// <summary>
    /// Whether <paramref name="buffer"/> starts with the first <paramref name="length"/> bytes of the client preface
    /// (§3.4); null while too short to tell.
    /// </summary>
    public static bool? StartsWithPreface(in ReadOnlySequence<byte> buffer, int length = FrameWriter.PrefaceLength)
    {
        int available = (int)Math.Min(buffer.Length, length);
        Span<byte> start = stackalloc byte[length];
        buffer.Slice(0, available).CopyTo(start);
        if (!start[..available].SequenceEqual(FrameWriter.ClientPreface[..available]))
        {
            return false;
        }

        return available == length ? true : null;
    }

    /// <summary>Graceful close (shutdown, drain, a removed listener): GOAWAY, the open streams finish, then the connection ends.</summary>
    public void RequestClose()
    {
        CloseRequested = true;
        Input.CancelPendingRead();
    }

    /// <summary>Serves the connection until it ends; the client preface may still be unread in the input.</summary>
    public async Task ServeAsync()
    {
        try
        {
            if (!await ReadPrefaceAsync())
            {
                return;
            }

            // §3.4: the server's preface is a SETTINGS frame.
            WriteLocalSettings(
            [
                (SettingId.MaxConcurrentStreams, (uint)Settings.MaxConcurrentStreams),
                (SettingId.InitialWindowSize, (uint)Settings.InitialWindowSize),
                (SettingId.MaxHeaderListSize, (uint)Settings.MaxHeaderListSize),
            ]);
            await FlushControlAsync();
            await ServeFramesAsync();
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException)
        {
            // The client went away before its preface was read, or before the gateway's SETTINGS were sent.
        }
        finally
        {
            await EndStreamsAsync();
        }
    }

    private async ValueTask<bool> ReadPrefaceAsync()
    {
        Deadline.Arm(_runtime.Snapshot.Limits.RequestHeadTimeout);
        try
        {
            while (true)
            {
                ReadResult result = await Input.ReadAsync();
                ReadOnlySequence<byte> buffer = result.Buffer;
                bool? preface = StartsWithPreface(buffer);
                if (preface == false)
                {
                    // §3.4: not the preface: a connection error of type PROTOCOL_ERROR.
                    Input.AdvanceTo(buffer.End);
                    WriteGoAway(Http2ErrorCode.ProtocolError);
                    await FlushControlAsync();
                    return false;
                }

                if (preface == true)
                {
                    Input.AdvanceTo(buffer.GetPosition(FrameWriter.PrefaceLength));
                    return true;
                }

                Input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return false;
                }
            }
        }
        finally
        {
            Deadline.Disarm();
        }
    }

    /// <summary>A request's header block: a new stream, checked and started.</summary>
    protected override Http2ErrorCode OnHeadBlock(int streamId, Http2Stream? stream, ReadOnlySpan<byte> block, bool endStream, bool selfDependent)
    {
        _fields.Begin(Settings.MaxHeaderListSize, SectionKind.Request);
        if (Decoder.Decode(block, _fields) != HpackResult.Ok)
        {
            return Http2ErrorCode.CompressionError;
        }

        if (streamId <= LastStreamId)
        {
            // §5.1: HEADERS on a closed stream (one the gateway reset may still see frames in flight); §5.1.1: ids grow.
            return WasReset(streamId) ? Http2ErrorCode.NoError : Http2ErrorCode.StreamClosed;
        }

        // §5.1.1: a client opens streams with odd identifiers.
        if ((streamId & 1) == 0)
        {
            return Http2ErrorCode.ProtocolError;
        }

        LastStreamId = streamId;
        if (GoingAway)
        {
            return Http2ErrorCode.NoError; // §6.8: after GOAWAY, new streams are ignored.
        }

        if (selfDependent)
        {
            // RFC 9113 §5.3.1 keeps it: a stream cannot depend on itself.
            ResetStream(streamId, Http2ErrorCode.ProtocolError);
            return Http2ErrorCode.NoError;
        }

        lock (Sync)
        {
            if (Streams.Count >= Settings.MaxConcurrentStreams)
            {
                Count(Http2Event.StreamRefused);
                ResetStream(streamId, Http2ErrorCode.RefusedStream);
                return Http2ErrorCode.NoError;
            }
        }

        RejectionReason rejection = RejectionReason.None;
        ReadOnlyMemory<byte> head = default;
        if (_fields.TooLarge)
        {
            // §10.5.1: answered with 431 rather than reset; its head is not parsed.
            rejection = RejectionReason.HeadTooLarge;
        }
        else if (!_fields.TryComplete(bodyFollows: !endStream, out head))
        {
            Count(Http2Event.MalformedRequest);
            ResetStream(streamId, Http2ErrorCode.ProtocolError);
            return Http2ErrorCode.NoError;
        }

        StartStream(streamId, head, rejection, endStream);
        return Http2ErrorCode.NoError;
    }

    private void StartStream(int streamId, ReadOnlyMemory<byte> head, RejectionReason rejection, bool endStream)
    {
        // An ended stream (of this connection or another) is reused only once nothing of it runs any more, and no
        // frame loop holds a reference to it past the frame it was handling.
        ExchangeStream stream;
        if (_streams.TryRent(out ExchangeStream? idle))
        {
            stream = idle;
            stream.Reuse(this, streamId, endStream, _fields.ContentLength, Settings.InitialWindowSize);
        }
        else
        {
            stream = new ExchangeStream(this, streamId, new ExchangePipeline(_runtime), endStream, _fields.ContentLength, Settings.InitialWindowSize);
        }

        ExchangePipeline pipeline = stream.Pipeline;
        GatewaySnapshot snapshot = _runtime.Snapshot;
        Forwarding.Exchange exchange = pipeline.Exchange;
        exchange.Attach(stream.IncomingReader, stream.OutgoingWriter, _peer, isHttps: _tls is not null);
        exchange.Tls = _tls;
        exchange.IsHttp2 = true;
        pipeline.Attach(stream.IncomingReader);
        exchange.BeginRequest(snapshot);
        if (rejection == RejectionReason.None)
        {
            ParseStatus status = RequestHeadParser.TryParse(new ReadOnlySequence<byte>(head), exchange.Request, snapshot.Limits.Head, out _, out _, out rejection);
            if (status != ParseStatus.Complete && rejection == RejectionReason.None)
            {
                rejection = RejectionReason.InvalidRequestLine;
            }
        }

        Open(stream);
        stream.Start(rejection);
    }

    /// <summary>Both halves of a stream are done: it leaves the connection, and with its pipeline serves a later stream.</summary>
    public void OnStreamEnded(ExchangeStream stream)
    {
        bool answered = stream.OutgoingEnded && stream.EndStreamReceived;
        if (stream.OutgoingEnded && !stream.EndStreamReceived && !stream.Reset)
        {
            // §8.1: the response is whole before the request is; the client may stop sending it.
            ResetStream(stream, Http2ErrorCode.NoError);
        }

        lock (Sync)
        {
            Streams.Remove(stream.Id);
            if (answered)
            {
                _answered++;
            }

            ExchangePipeline pipeline = stream.Pipeline;
            pipeline.Detach();
            pipeline.Exchange.Detach();
            if (pipeline.IsQuiet)
            {
                _streams.Return(stream);
            }
            else
            {
                pipeline.Dispose();
            }

            if (Streams.Count == 0 && (GoingAway || CloseRequested))
            {
                Input.CancelPendingRead();
            }
        }
    }

    /// <summary>CVE-2023-44487: a client that cancels streams faster than it lets them be answered is stopped.</summary>
    protected override Http2ErrorCode OnPeerReset(Http2Stream stream, Http2ErrorCode error) =>
        ++_resets > Settings.MaxResets && _resets > _answered ? Calm(Http2Event.RapidReset) : Http2ErrorCode.NoError;
}
