using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using HyperGate.Connection;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Http2.Hpack;
using HyperGate.Tls;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

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

/// <summary>
/// A downstream HTTP/2 connection (RFC 9113): reads frames, keeps the connection's and its streams' state, and runs
/// each request stream through the exchange pipeline (<see cref="Http2Stream"/>). One reader (this loop); many
/// writers (the streams' responses, and control frames), serialized by one lock around the connection's output.
/// </summary>
internal sealed class Http2Connection
{
    private readonly GatewayRuntime _runtime;
    private readonly Http2Settings _settings;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly IPAddress? _peer;
    private readonly TlsConnection? _tls;
    private readonly ReadDeadline _deadline;
    private readonly HpackDecoder _decoder;
    private readonly RequestFields _fields = new();
    private readonly Dictionary<int, Http2Stream> _streams = [];
    private readonly Stack<ExchangePipeline> _idlePipelines = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ArrayBufferWriter<byte> _control = new(256);
    private readonly object _sync = new();
    private byte[] _frame = new byte[FrameHeader.DefaultMaxFrameSize];
    private byte[] _headerBlock = new byte[4096];
    private int _headerBlockLength;
    private int _headerBlockStream;
    private bool _headerBlockEndStream;
    private int _lastStreamId;
    private long _sendWindow = FrameHeader.DefaultWindowSize;
    private long _receiveWindow = FrameHeader.DefaultWindowSize;
    private long _receiveUnacknowledged;
    private int _peerInitialWindow = FrameHeader.DefaultWindowSize;
    private int _peerMaxFrameSize = FrameHeader.DefaultMaxFrameSize;
    private int _writersWaiting;
    private int _resets;
    private int _answered;
    private int _opened;
    private int _controlFrames;
    private bool _settingsReceived;
    private bool _goingAway;
    private volatile bool _closed;
    private volatile bool _closeRequested;

    public Http2Connection(GatewayRuntime runtime, Http2Settings settings, PipeReader input, PipeWriter output, IPAddress? peer, TlsConnection? tls)
    {
        _runtime = runtime;
        _settings = settings;
        _input = input;
        _output = output;
        _peer = peer;
        _tls = tls;
        // Any string of a block within its bound fits, Huffman-expanded: a field too large is answered 431, not refused here.
        _decoder = new HpackDecoder(Http2Settings.HeaderTableSize, 2 * MaxHeaderBlockSize(settings));
        _deadline = new ReadDeadline(runtime.TimeProvider) { Input = input };
    }

    /// <summary>The preface's first line: what tells a plain connection is HTTP/2 (the rest is checked as HTTP/2).</summary>
    public const int PrefaceLineLength = 16;

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
        _closeRequested = true;
        _input.CancelPendingRead();
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

            // §3.4: the server's preface is a SETTINGS frame; the connection window opens to its configured size too.
            FrameWriter.WriteSettings(_control,
            [
                (SettingId.MaxConcurrentStreams, (uint)_settings.MaxConcurrentStreams),
                (SettingId.InitialWindowSize, (uint)_settings.InitialWindowSize),
                (SettingId.MaxHeaderListSize, (uint)_settings.MaxHeaderListSize),
            ]);
            if (_settings.ConnectionWindowSize > FrameHeader.DefaultWindowSize)
            {
                FrameWriter.WriteWindowUpdate(_control, 0, _settings.ConnectionWindowSize - FrameHeader.DefaultWindowSize);
                _receiveWindow = _settings.ConnectionWindowSize;
            }

            await FlushControlAsync();
            Http2ErrorCode error = await ReadFramesAsync();
            if (!_closed)
            {
                lock (_control)
                {
                    FrameWriter.WriteGoAway(_control, _lastStreamId, error);
                }

                await FlushControlAsync();
            }
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
        {
            // The client went away.
        }
        finally
        {
            _closed = true;
            _deadline.Disarm();
            Task[] running;
            lock (_sync)
            {
                running = [.. _streams.Values.Select(stream => stream.Running)];
                foreach (Http2Stream stream in _streams.Values)
                {
                    stream.Cancel();
                }
            }

            await Task.WhenAll(running);
            _deadline.Dispose();
            foreach (ExchangePipeline pipeline in _idlePipelines)
            {
                pipeline.Dispose();
            }
        }
    }

    private async ValueTask<bool> ReadPrefaceAsync()
    {
        _deadline.Arm(_runtime.Snapshot.Limits.RequestHeadTimeout);
        try
        {
            while (true)
            {
                ReadResult result = await _input.ReadAsync();
                ReadOnlySequence<byte> buffer = result.Buffer;
                bool? preface = StartsWithPreface(buffer);
                if (preface == false)
                {
                    // §3.4: not the preface: a connection error of type PROTOCOL_ERROR.
                    _input.AdvanceTo(buffer.End);
                    lock (_control)
                    {
                        FrameWriter.WriteGoAway(_control, 0, Http2ErrorCode.ProtocolError);
                    }

                    await FlushControlAsync();
                    return false;
                }

                if (preface == true)
                {
                    _input.AdvanceTo(buffer.GetPosition(FrameWriter.PrefaceLength));
                    return true;
                }

                _input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return false;
                }
            }
        }
        finally
        {
            _deadline.Disarm();
        }
    }

    /// <summary>The frame loop; returns the error code of the GOAWAY that ends the connection.</summary>
    private async ValueTask<Http2ErrorCode> ReadFramesAsync()
    {
        while (true)
        {
            bool idle;
            lock (_sync)
            {
                idle = _streams.Count == 0;
                if (idle && (_goingAway || _closeRequested))
                {
                    return Http2ErrorCode.NoError;
                }
            }

            if (idle)
            {
                _deadline.Arm(_runtime.Snapshot.Limits.KeepAliveTimeout);
            }

            ReadResult result = await _input.ReadAsync();
            _deadline.Disarm();
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (result.IsCanceled)
            {
                _input.AdvanceTo(buffer.Start, buffer.End);
                if (_deadline.Expired)
                {
                    return Http2ErrorCode.NoError;
                }

                if (_closeRequested && !_goingAway)
                {
                    // §6.8: the streams up to the last one opened are answered; no new one is.
                    _goingAway = true;
                    lock (_control)
                    {
                        FrameWriter.WriteGoAway(_control, _lastStreamId, Http2ErrorCode.NoError);
                    }

                    await FlushControlAsync();
                }

                continue;
            }

            Http2ErrorCode error = Http2ErrorCode.NoError;
            while (buffer.Length >= FrameHeader.Size)
            {
                FrameHeader header = FrameHeader.Read(buffer);
                if (header.Length > FrameHeader.DefaultMaxFrameSize)
                {
                    // §4.2: larger than the SETTINGS_MAX_FRAME_SIZE the gateway announced (the default).
                    error = Http2ErrorCode.FrameSizeError;
                    break;
                }

                if (buffer.Length < FrameHeader.Size + header.Length)
                {
                    break;
                }

                ReadOnlySequence<byte> payload = buffer.Slice(FrameHeader.Size, header.Length);
                ReadOnlySpan<byte> span;
                if (payload.IsSingleSegment)
                {
                    span = payload.FirstSpan;
                }
                else
                {
                    payload.CopyTo(_frame);
                    span = _frame.AsSpan(0, header.Length);
                }

                error = OnFrame(header, span);
                buffer = buffer.Slice(FrameHeader.Size + header.Length);
                if (error != Http2ErrorCode.NoError)
                {
                    break;
                }
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
            if (error != Http2ErrorCode.NoError)
            {
                _runtime.Telemetry.Metrics.CountHttp2(error switch
                {
                    Http2ErrorCode.CompressionError => Http2Event.CompressionError,
                    Http2ErrorCode.FlowControlError => Http2Event.FlowControlViolation,
                    _ => _calm ?? Http2Event.ProtocolViolation,
                });
                return error;
            }

            await FlushControlAsync();
            if (result.IsCompleted)
            {
                _closed = true;
                return Http2ErrorCode.NoError;
            }
        }
    }

    /// <summary>Set with ENHANCE_YOUR_CALM: which abuse it answers.</summary>
    private Http2Event? _calm;

    private Http2ErrorCode Calm(Http2Event reason)
    {
        _calm = reason;
        return Http2ErrorCode.EnhanceYourCalm;
    }

    /// <summary>One frame; returns a connection error, or NoError. Stream errors are answered here with RST_STREAM.</summary>
    private Http2ErrorCode OnFrame(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        // §3.4: the client's preface ends with a SETTINGS frame.
        if (!_settingsReceived && header.Type != FrameType.Settings)
        {
            return Http2ErrorCode.ProtocolError;
        }

        // §6.10: a header block is a contiguous run of frames: nothing but its CONTINUATION frames may come between.
        if (_headerBlockStream != 0 && (header.Type != FrameType.Continuation || header.StreamId != _headerBlockStream))
        {
            return Http2ErrorCode.ProtocolError;
        }

        return header.Type switch
        {
            FrameType.Data => OnData(header, payload),
            FrameType.Headers => OnHeaders(header, payload),
            FrameType.Priority => OnPriority(header, payload),
            FrameType.RstStream => OnRstStream(header, payload),
            FrameType.Settings => OnSettings(header, payload),
            FrameType.PushPromise => Http2ErrorCode.ProtocolError, // §8.4: clients cannot push.
            FrameType.Ping => OnPing(header, payload),
            FrameType.GoAway => OnGoAway(header, payload),
            FrameType.WindowUpdate => OnWindowUpdate(header, payload),
            FrameType.Continuation => OnContinuation(header, payload),
            _ => Http2ErrorCode.NoError, // §4.1, §5.5: unknown frame types are ignored.
        };
    }

    /// <summary>§6.1: strips the padding of a PADDED frame; false when the padding is as long as the payload or longer.</summary>
    private static bool TryUnpad(FrameHeader header, ref ReadOnlySpan<byte> payload)
    {
        if (!header.Has(FrameFlags.Padded))
        {
            return true;
        }

        if (payload.IsEmpty || payload[0] >= payload.Length)
        {
            return false;
        }

        int padding = payload[0];
        payload = payload[1..^padding];
        return true;
    }

    private Http2ErrorCode OnData(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId == 0)
        {
            return Http2ErrorCode.ProtocolError;
        }

        if (header.StreamId > _lastStreamId)
        {
            return Http2ErrorCode.ProtocolError; // §5.1: DATA on an idle stream.
        }

        int flowControlled = header.Length;
        if (!TryUnpad(header, ref payload))
        {
            return Http2ErrorCode.ProtocolError;
        }

        // §6.9: every DATA frame counts against the connection's window, whatever its stream's state.
        _receiveWindow -= flowControlled;
        if (_receiveWindow < 0)
        {
            return Http2ErrorCode.FlowControlError;
        }

        _receiveUnacknowledged += flowControlled;
        if (_receiveUnacknowledged >= _settings.ConnectionWindowSize / 2)
        {
            lock (_control)
            {
                FrameWriter.WriteWindowUpdate(_control, 0, (int)_receiveUnacknowledged);
            }

            _receiveWindow += _receiveUnacknowledged;
            _receiveUnacknowledged = 0;
        }

        bool endStream = header.Has(FrameFlags.EndStreamOrAck);
        if (payload.IsEmpty && !endStream && ++_controlFrames > _settings.MaxControlFrames + _opened)
        {
            return Calm(Http2Event.ControlFrameFlood);
        }

        Http2Stream? stream = Find(header.StreamId);
        if (stream is null || stream.EndStreamReceived)
        {
            // §5.1: closed, or half-closed (remote): STREAM_CLOSED. Frames on a stream the gateway reset are ignored.
            if (stream is not null)
            {
                ResetStream(stream, Http2ErrorCode.StreamClosed);
            }
            else if (!_recentlyReset.Contains(header.StreamId))
            {
                ResetStream(header.StreamId, Http2ErrorCode.StreamClosed);
            }

            return Http2ErrorCode.NoError;
        }

        stream.AddReceiveWindow(-flowControlled);
        stream.ReceivedLength += payload.Length;
        if (stream.ReceiveWindow < 0)
        {
            Count(Http2Event.FlowControlViolation);
            ResetStream(stream, Http2ErrorCode.FlowControlError);
            return Http2ErrorCode.NoError;
        }

        // §8.1.1: DATA must add up to the declared content-length.
        if (stream.ExpectedLength >= 0 && (stream.ReceivedLength > stream.ExpectedLength || (endStream && stream.ReceivedLength != stream.ExpectedLength)))
        {
            Count(Http2Event.MalformedRequest);
            ResetStream(stream, Http2ErrorCode.ProtocolError);
            return Http2ErrorCode.NoError;
        }

        stream.EndStreamReceived = endStream;
        if (flowControlled > payload.Length && !endStream)
        {
            // Padding never reaches the exchange: its share of the window comes back at once.
            GrantStreamWindow(stream, flowControlled - payload.Length);
        }

        stream.OnData(payload, endStream);
        return Http2ErrorCode.NoError;
    }

    private Http2ErrorCode OnHeaders(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId == 0 || !TryUnpad(header, ref payload))
        {
            return Http2ErrorCode.ProtocolError;
        }

        bool selfDependent = false;
        if (header.Has(FrameFlags.Priority))
        {
            if (payload.Length < 5)
            {
                return Http2ErrorCode.FrameSizeError;
            }

            selfDependent = (int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFF_FFFF) == header.StreamId;
            payload = payload[5..];
        }

        _headerBlockLength = 0;
        if (!AppendHeaderBlock(payload))
        {
            return Calm(Http2Event.HeaderBlockTooLarge);
        }

        _headerBlockEndStream = header.Has(FrameFlags.EndStreamOrAck);
        _selfDependent = selfDependent;
        if (!header.Has(FrameFlags.EndHeaders))
        {
            _headerBlockStream = header.StreamId;
            return Http2ErrorCode.NoError;
        }

        return OnHeaderBlock(header.StreamId);
    }

    private bool _selfDependent;

    private Http2ErrorCode OnContinuation(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (_headerBlockStream == 0)
        {
            return Http2ErrorCode.ProtocolError; // §6.10: no header block to continue.
        }

        if (!AppendHeaderBlock(payload))
        {
            return Calm(Http2Event.HeaderBlockTooLarge);
        }

        if (!header.Has(FrameFlags.EndHeaders))
        {
            return Http2ErrorCode.NoError;
        }

        int streamId = _headerBlockStream;
        _headerBlockStream = 0;
        return OnHeaderBlock(streamId);
    }

    /// <summary>A header block never needs more than the list it encodes, plus a frame of slack for literal overheads.</summary>
    private static int MaxHeaderBlockSize(Http2Settings settings) => settings.MaxHeaderListSize + FrameHeader.DefaultMaxFrameSize;

    /// <summary>Collects a header block's fragments, bounded (CVE-2024-27316: CONTINUATION without end).</summary>
    private bool AppendHeaderBlock(ReadOnlySpan<byte> fragment)
    {
        int length = _headerBlockLength + fragment.Length;
        if (length > MaxHeaderBlockSize(_settings))
        {
            return false;
        }

        if (_headerBlock.Length < length)
        {
            Array.Resize(ref _headerBlock, Math.Max(length, _headerBlock.Length * 2));
        }

        fragment.CopyTo(_headerBlock.AsSpan(_headerBlockLength));
        _headerBlockLength = length;
        return true;
    }

    /// <summary>A whole header block: a new request, or the trailers of one whose body is arriving.</summary>
    private Http2ErrorCode OnHeaderBlock(int streamId)
    {
        ReadOnlySpan<byte> block = _headerBlock.AsSpan(0, _headerBlockLength);
        bool endStream = _headerBlockEndStream;
        Http2Stream? existing = Find(streamId);
        if (existing is not null || streamId <= _lastStreamId)
        {
            // Trailers (§8.1): on an open stream, with END_STREAM. The block is decoded first in every case: the
            // decoder's table must stay in step with the client's.
            _fields.Begin(_settings.MaxHeaderListSize, trailers: true);
            if (_decoder.Decode(block, _fields) != HpackResult.Ok)
            {
                return Http2ErrorCode.CompressionError;
            }

            if (existing is null)
            {
                // §5.1: HEADERS on a closed stream (one the gateway reset may still see frames in flight).
                return _recentlyReset.Contains(streamId) ? Http2ErrorCode.NoError : Http2ErrorCode.StreamClosed;
            }

            if (existing.EndStreamReceived)
            {
                ResetStream(existing, Http2ErrorCode.StreamClosed);
                return Http2ErrorCode.NoError;
            }

            if (!endStream || _fields.Malformed is not null || _fields.TooLarge
                || (existing.ExpectedLength >= 0 && existing.ReceivedLength != existing.ExpectedLength))
            {
                Count(Http2Event.MalformedRequest);
                ResetStream(existing, Http2ErrorCode.ProtocolError);
                return Http2ErrorCode.NoError;
            }

            existing.EndStreamReceived = true;
            existing.OnTrailers(_fields.TrailerLines);
            return Http2ErrorCode.NoError;
        }

        // §5.1.1: a client opens streams with odd identifiers, each larger than the last.
        if ((streamId & 1) == 0)
        {
            return Http2ErrorCode.ProtocolError;
        }

        _fields.Begin(_settings.MaxHeaderListSize, trailers: false);
        if (_decoder.Decode(block, _fields) != HpackResult.Ok)
        {
            return Http2ErrorCode.CompressionError;
        }

        _lastStreamId = streamId;
        if (_goingAway)
        {
            return Http2ErrorCode.NoError; // §6.8: after GOAWAY, new streams are ignored.
        }

        if (_selfDependent)
        {
            // §5.3.1 (RFC 7540), kept by RFC 9113 §6.3: a stream cannot depend on itself.
            ResetStream(streamId, Http2ErrorCode.ProtocolError);
            return Http2ErrorCode.NoError;
        }

        lock (_sync)
        {
            if (_streams.Count >= _settings.MaxConcurrentStreams)
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
        ExchangePipeline pipeline = _idlePipelines.Count > 0 ? _idlePipelines.Pop() : new ExchangePipeline(_runtime);
        var stream = new Http2Stream(this, streamId, pipeline, endStream, _fields.ContentLength)
        {
            ChunkedBody = !endStream && _fields.ContentLength < 0,
            ReceiveWindow = _settings.InitialWindowSize,
        };

        GatewaySnapshot snapshot = _runtime.Snapshot;
        Forwarding.Exchange exchange = pipeline.Exchange;
        exchange.Attach(stream.BodyReader, stream.ResponseWriter, _peer, isHttps: _tls is not null);
        exchange.Tls = _tls;
        exchange.IsHttp2 = true;
        pipeline.Attach(stream.BodyReader);
        exchange.BeginRequest(snapshot);
        if (rejection == RejectionReason.None)
        {
            ParseStatus status = RequestHeadParser.TryParse(new ReadOnlySequence<byte>(head), exchange.Request, snapshot.Limits.Head, out _, out _, out rejection);
            if (status != ParseStatus.Complete && rejection == RejectionReason.None)
            {
                rejection = RejectionReason.InvalidRequestLine;
            }
        }

        lock (_sync)
        {
            stream.SendWindow = _peerInitialWindow;
            _streams[streamId] = stream;
            _opened++;
        }

        stream.Running = stream.RunAsync(rejection);
    }

    /// <summary>Both halves of a stream are done: it leaves the connection, and its pipeline serves a later one.</summary>
    public void OnStreamEnded(Http2Stream stream)
    {
        bool reset = !stream.ResponseEnded || !stream.EndStreamReceived;
        if (stream.ResponseEnded && !stream.EndStreamReceived && !stream.Reset)
        {
            // §8.1: the response is whole before the request is; the client may stop sending it.
            ResetStream(stream, Http2ErrorCode.NoError);
        }

        lock (_sync)
        {
            _streams.Remove(stream.Id);
            if (!reset)
            {
                _answered++;
            }

            ExchangePipeline pipeline = stream.Pipeline;
            pipeline.Detach();
            pipeline.Exchange.Detach();
            if (!_closed && pipeline.IsQuiet)
            {
                _idlePipelines.Push(pipeline);
            }
            else
            {
                pipeline.Dispose();
            }

            if (_streams.Count == 0 && (_goingAway || _closeRequested))
            {
                _input.CancelPendingRead();
            }
        }
    }

    private Http2Stream? Find(int streamId)
    {
        lock (_sync)
        {
            return _streams.GetValueOrDefault(streamId);
        }
    }

    private Http2ErrorCode OnPriority(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId == 0)
        {
            return Http2ErrorCode.ProtocolError;
        }

        if (payload.Length != 5)
        {
            ResetStream(header.StreamId, Http2ErrorCode.FrameSizeError); // §6.3: a stream error.
            return Http2ErrorCode.NoError;
        }

        // Priority signals are ignored (RFC 9113 §5.3.2), but a stream still cannot depend on itself.
        if ((int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFF_FFFF) == header.StreamId)
        {
            ResetStream(header.StreamId, Http2ErrorCode.ProtocolError);
        }

        return Http2ErrorCode.NoError;
    }

    private Http2ErrorCode OnRstStream(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId == 0)
        {
            return Http2ErrorCode.ProtocolError;
        }

        if (payload.Length != 4)
        {
            return Http2ErrorCode.FrameSizeError;
        }

        if (header.StreamId > _lastStreamId)
        {
            return Http2ErrorCode.ProtocolError; // §6.4: RST_STREAM on an idle stream.
        }

        if (Find(header.StreamId) is { } stream)
        {
            stream.Cancel();

            // CVE-2023-44487: a client that cancels streams faster than it lets them be answered is stopped.
            if (++_resets > _settings.MaxResets && _resets > _answered)
            {
                return Calm(Http2Event.RapidReset);
            }
        }

        return Http2ErrorCode.NoError;
    }

    private Http2ErrorCode OnSettings(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId != 0)
        {
            return Http2ErrorCode.ProtocolError;
        }

        if (header.Has(FrameFlags.EndStreamOrAck))
        {
            return payload.IsEmpty ? Http2ErrorCode.NoError : Http2ErrorCode.FrameSizeError;
        }

        if (payload.Length % 6 != 0)
        {
            return Http2ErrorCode.FrameSizeError;
        }

        if (_settingsReceived && ++_controlFrames > _settings.MaxControlFrames + _opened)
        {
            return Calm(Http2Event.ControlFrameFlood);
        }

        _settingsReceived = true;
        for (int i = 0; i < payload.Length; i += 6)
        {
            var id = (SettingId)BinaryPrimitives.ReadUInt16BigEndian(payload[i..]);
            uint value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
            switch (id)
            {
                case SettingId.EnablePush when value > 1:
                    return Http2ErrorCode.ProtocolError;
                case SettingId.InitialWindowSize:
                    if (value > FrameHeader.MaxWindowSize)
                    {
                        return Http2ErrorCode.FlowControlError;
                    }

                    // §6.9.2: the change applies to every open stream's window, which may go negative.
                    lock (_sync)
                    {
                        long delta = (long)value - _peerInitialWindow;
                        _peerInitialWindow = (int)value;
                        foreach (Http2Stream stream in _streams.Values)
                        {
                            stream.SendWindow += delta;
                            if (stream.SendWindow > FrameHeader.MaxWindowSize)
                            {
                                return Http2ErrorCode.FlowControlError;
                            }

                            if (delta > 0)
                            {
                                WakeForWindow(stream);
                            }
                        }
                    }

                    break;
                case SettingId.MaxFrameSize:
                    if (value < FrameHeader.DefaultMaxFrameSize || value > FrameHeader.MaxAllowedFrameSize)
                    {
                        return Http2ErrorCode.ProtocolError;
                    }

                    _peerMaxFrameSize = (int)value;
                    break;
            }
        }

        lock (_control)
        {
            FrameWriter.WriteSettingsAck(_control);
        }

        return Http2ErrorCode.NoError;
    }

    private Http2ErrorCode OnPing(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId != 0)
        {
            return Http2ErrorCode.ProtocolError;
        }

        if (payload.Length != 8)
        {
            return Http2ErrorCode.FrameSizeError;
        }

        if (header.Has(FrameFlags.EndStreamOrAck))
        {
            return Http2ErrorCode.NoError;
        }

        if (++_controlFrames > _settings.MaxControlFrames + _opened)
        {
            return Calm(Http2Event.ControlFrameFlood);
        }

        lock (_control)
        {
            FrameWriter.WritePingAck(_control, payload);
        }

        return Http2ErrorCode.NoError;
    }

    private Http2ErrorCode OnGoAway(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.StreamId != 0)
        {
            return Http2ErrorCode.ProtocolError;
        }

        if (payload.Length < 8)
        {
            return Http2ErrorCode.FrameSizeError;
        }

        // The client opens no more streams; those it has are still answered.
        _goingAway = true;
        return Http2ErrorCode.NoError;
    }

    private Http2ErrorCode OnWindowUpdate(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length != 4)
        {
            return Http2ErrorCode.FrameSizeError;
        }

        int increment = (int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFF_FFFF);
        if (header.StreamId == 0)
        {
            if (increment == 0)
            {
                return Http2ErrorCode.ProtocolError; // §6.9
            }

            lock (_sync)
            {
                _sendWindow += increment;
                if (_sendWindow > FrameHeader.MaxWindowSize)
                {
                    return Http2ErrorCode.FlowControlError; // §6.9.1
                }

                foreach (Http2Stream waiting in _streams.Values)
                {
                    WakeForWindow(waiting);
                }
            }

            return Http2ErrorCode.NoError;
        }

        if (header.StreamId > _lastStreamId)
        {
            return Http2ErrorCode.ProtocolError; // §5.1: WINDOW_UPDATE on an idle stream.
        }

        Http2Stream? stream = Find(header.StreamId);
        if (increment == 0)
        {
            ResetStream(header.StreamId, Http2ErrorCode.ProtocolError);
            stream?.Cancel();
            return Http2ErrorCode.NoError;
        }

        if (stream is null)
        {
            return Http2ErrorCode.NoError;
        }

        lock (_sync)
        {
            stream.SendWindow += increment;
            if (stream.SendWindow <= FrameHeader.MaxWindowSize)
            {
                WakeForWindow(stream);
                return Http2ErrorCode.NoError;
            }
        }

        Count(Http2Event.FlowControlViolation);
        ResetStream(stream, Http2ErrorCode.FlowControlError);
        return Http2ErrorCode.NoError;
    }

    /// <summary>Under <see cref="_sync"/>: a stream waiting for a window may try again.</summary>
    private static void WakeForWindow(Http2Stream stream)
    {
        if (stream.WaitingForWindow)
        {
            stream.WaitingForWindow = false;
            stream.WindowOpened.Release();
        }
    }

    // --- writing ---------------------------------------------------------------------------------------------

    /// <summary>Stream ids the gateway reset lately: frames the client sent before it knew are ignored (§5.1).</summary>
    private readonly RecentStreams _recentlyReset = new();

    /// <summary>Resets a stream that has state here: its exchange is cancelled.</summary>
    public void ResetStream(Http2Stream stream, Http2ErrorCode error)
    {
        stream.Cancel();
        ResetStream(stream.Id, error);
    }

    /// <summary>Sends RST_STREAM (§6.4).</summary>
    public void ResetStream(int streamId, Http2ErrorCode error)
    {
        lock (_control)
        {
            _recentlyReset.Add(streamId);
            FrameWriter.WriteRstStream(_control, streamId, error);
        }

        _ = FlushControlAsync();
    }

    /// <summary>The exchange read request body bytes: the client may send as many again on the stream.</summary>
    public void GrantStreamWindow(Http2Stream stream, int bytes)
    {
        if (stream.Reset || _closed)
        {
            return;
        }

        lock (_control)
        {
            FrameWriter.WriteWindowUpdate(_control, stream.Id, bytes);
        }

        stream.AddReceiveWindow(bytes);
        _ = FlushControlAsync();
    }

    private async Task FlushControlAsync()
    {
        await AcquireWriteAsync();
        try
        {
            await FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private ValueTask AcquireWriteAsync()
    {
        Interlocked.Increment(ref _writersWaiting);
        Task wait = _writeLock.WaitAsync();
        if (wait.IsCompletedSuccessfully)
        {
            Interlocked.Decrement(ref _writersWaiting);
            return ValueTask.CompletedTask;
        }

        return Acquired(wait);

        async ValueTask Acquired(Task wait)
        {
            await wait;
            Interlocked.Decrement(ref _writersWaiting);
        }
    }

    /// <summary>
    /// Under the write lock: puts pending control frames on the output and flushes, unless another writer is
    /// waiting for the lock (it flushes after its own frames: one write for several).
    /// </summary>
    private async ValueTask FlushAsync()
    {
        lock (_control)
        {
            if (_control.WrittenCount > 0)
            {
                _output.Write(_control.WrittenSpan);
                _control.ResetWrittenCount();
            }
        }

        if (Volatile.Read(ref _writersWaiting) == 0)
        {
            FlushResult flushed = await _output.FlushAsync();
            if (flushed.IsCompleted)
            {
                _closed = true;
            }
        }
    }

    /// <summary>Sends a header block: HEADERS, then CONTINUATION frames past the client's frame size (§6.10).</summary>
    public async ValueTask<bool> SendHeaderBlockAsync(Http2Stream stream, ReadOnlyMemory<byte> block, bool endStream)
    {
        await AcquireWriteAsync();
        try
        {
            if (stream.Reset || _closed)
            {
                return false;
            }

            FrameType type = FrameType.Headers;
            do
            {
                int length = Math.Min(block.Length, _peerMaxFrameSize);
                FrameFlags flags = (length == block.Length ? FrameFlags.EndHeaders : FrameFlags.None)
                    | (type == FrameType.Headers && endStream ? FrameFlags.EndStreamOrAck : FrameFlags.None);
                new FrameHeader(length, type, flags, stream.Id).Write(_output.GetSpan(FrameHeader.Size));
                _output.Advance(FrameHeader.Size);
                _output.Write(block.Span[..length]);
                block = block[length..];
                type = FrameType.Continuation;
            }
            while (!block.IsEmpty);

            await FlushAsync();
            return !_closed;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Sends body bytes as DATA frames within the stream's and the connection's windows (§6.9.1), waiting for the
    /// client to open them at most send_timeout; false when the stream or connection ended first.
    /// </summary>
    public async ValueTask<bool> SendDataAsync(Http2Stream stream, ReadOnlySequence<byte> data, bool endStream)
    {
        while (true)
        {
            int length;
            lock (_sync)
            {
                if (stream.Reset || _closed)
                {
                    return false;
                }

                length = (int)Math.Max(0, Math.Min(Math.Min(data.Length, _peerMaxFrameSize), Math.Min(stream.SendWindow, _sendWindow)));
                stream.SendWindow -= length;
                _sendWindow -= length;
                stream.WaitingForWindow = length == 0 && !data.IsEmpty;
            }

            if (stream.WaitingForWindow)
            {
                using var timeout = new CancellationTokenSource(_settings.SendTimeout, _runtime.TimeProvider);
                try
                {
                    await stream.WindowOpened.WaitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    // A client that never opens its window cannot hold the stream (and its upstream) for ever.
                    Count(Http2Event.SendTimeout);
                    ResetStream(stream, Http2ErrorCode.Cancel);
                    return false;
                }

                continue;
            }

            bool last = length == data.Length && endStream;
            await AcquireWriteAsync();
            try
            {
                if (stream.Reset || _closed)
                {
                    return false;
                }

                FrameWriter.WriteDataHeader(_output, stream.Id, length, last);
                foreach (ReadOnlyMemory<byte> segment in data.Slice(0, length))
                {
                    _output.Write(segment.Span);
                }

                await FlushAsync();
            }
            finally
            {
                _writeLock.Release();
            }

            data = data.Slice(length);
            if (data.IsEmpty)
            {
                return !_closed;
            }
        }
    }

    private void Count(Http2Event reason) => _runtime.Telemetry.Metrics.CountHttp2(reason);

    /// <summary>A bounded memory of stream ids, oldest forgotten first.</summary>
    private sealed class RecentStreams
    {
        private readonly int[] _ids = new int[64];
        private int _next;

        public void Add(int id) => _ids[_next++ % _ids.Length] = id;

        public bool Contains(int id) => Array.IndexOf(_ids, id) >= 0;
    }
}
