using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using HyperGate.Http1;
using HyperGate.Http2.Hpack;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Http2;

/// <summary>
/// One HTTP/2 connection, either side (RFC 9113): the frame loop, connection and stream state, flow control and
/// the writing of frames. One reader (the loop); many writers (the streams, and control frames), serialized by
/// one lock around the connection's output. What differs between the gateway as a server (to clients) and as a
/// client (to upstreams) is what a header block starts: a request (<see cref="Http2Connection"/>) or the response
/// to a request the gateway sent (<see cref="Http2ClientConnection"/>).
/// </summary>
internal abstract class Http2Session
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ArrayBufferWriter<byte> _control = new(256);
    private readonly Action<Http2Event>? _count;
    private readonly RecentStreams _recentlyReset = new();
    private byte[] _frame = new byte[FrameHeader.DefaultMaxFrameSize];
    private byte[] _headerBlock = new byte[4096];
    private int _headerBlockLength;
    private int _headerBlockStream;
    private bool _headerBlockEndStream;
    private bool _selfDependent;
    private long _sendWindow = FrameHeader.DefaultWindowSize;
    private long _receiveWindow = FrameHeader.DefaultWindowSize;
    private long _receiveUnacknowledged;
    private int _peerInitialWindow = FrameHeader.DefaultWindowSize;
    private int _peerMaxFrameSize = FrameHeader.DefaultMaxFrameSize;
    private int _writersWaiting;
    private int _controlFrames;
    private bool _settingsReceived;
    private Http2Event? _calm;

    protected Http2Session(PipeReader input, PipeWriter output, Http2Settings settings, TimeProvider time, Action<Http2Event>? count)
    {
        Input = input;
        Output = output;
        Settings = settings;
        Time = time;
        _count = count;

        // Any string of a block within its bound fits, Huffman-expanded: a field too large is answered 431, not refused here.
        Decoder = new HpackDecoder(Http2Settings.HeaderTableSize, 2 * MaxHeaderBlockSize);
        Deadline = new ReadDeadline(time) { Input = input };
    }

    protected PipeReader Input { get; }

    protected PipeWriter Output { get; }

    protected Http2Settings Settings { get; }

    protected TimeProvider Time { get; }

    protected HpackDecoder Decoder { get; }

    /// <summary>Cancels the loop's read when the connection has idled too long.</summary>
    protected ReadDeadline Deadline { get; }

    /// <summary>The open streams, by id; guarded by <see cref="Sync"/>.</summary>
    protected Dictionary<int, Http2Stream> Streams { get; } = [];

    protected object Sync { get; } = new();

    /// <summary>The highest stream id opened (by the client: the gateway as a server; by the gateway as a client).</summary>
    protected int LastStreamId { get; set; }

    /// <summary>Streams opened on the connection so far.</summary>
    protected int Opened { get; set; }

    /// <summary>GOAWAY went one way or the other: no new stream.</summary>
    protected bool GoingAway { get; set; }

    protected volatile bool Closed;

    /// <summary>Stream relays and exchanges still running (see <see cref="StreamRunning"/>); set when the end waits for them.</summary>
    private int _running;
    private TaskCompletionSource? _stopped;

    protected volatile bool CloseRequested;

    /// <summary>SETTINGS_MAX_CONCURRENT_STREAMS of the peer: how many streams the gateway may open (as a client).</summary>
    protected int PeerMaxConcurrentStreams { get; set; } = int.MaxValue;

    /// <summary>A header block never needs more than the list it encodes, plus a frame of slack for literal overheads.</summary>
    private int MaxHeaderBlockSize => Settings.MaxHeaderListSize + FrameHeader.DefaultMaxFrameSize;

    /// <summary>How long the connection may stay without streams before it is closed.</summary>
    protected abstract TimeSpan IdleTimeout { get; }

    /// <summary>
    /// A header block that is not a stream's trailers: a new request (server), or a response head (client).
    /// <paramref name="stream"/> is the open stream of that id, if any.
    /// </summary>
    protected abstract Http2ErrorCode OnHeadBlock(int streamId, Http2Stream? stream, ReadOnlySpan<byte> block, bool endStream, bool selfDependent);

    /// <summary>The peer reset an open stream with <paramref name="error"/>; a connection error stops a peer that does it too often.</summary>
    protected virtual Http2ErrorCode OnPeerReset(Http2Stream stream, Http2ErrorCode error) => Http2ErrorCode.NoError;

    /// <summary>The peer sent GOAWAY: it takes no stream past <paramref name="lastStreamId"/>.</summary>
    protected virtual void OnPeerGoAway(int lastStreamId) => GoingAway = true;

    protected void Count(Http2Event reason) => _count?.Invoke(reason);

    protected Http2ErrorCode Calm(Http2Event reason)
    {
        _calm = reason;
        return Http2ErrorCode.EnhanceYourCalm;
    }

    /// <summary>Queues the local SETTINGS (and opens the connection window to its configured size).</summary>
    protected void WriteLocalSettings(ReadOnlySpan<(SettingId Id, uint Value)> settings)
    {
        lock (_control)
        {
            FrameWriter.WriteSettings(_control, settings);
            if (Settings.ConnectionWindowSize > FrameHeader.DefaultWindowSize)
            {
                FrameWriter.WriteWindowUpdate(_control, 0, Settings.ConnectionWindowSize - FrameHeader.DefaultWindowSize);
                _receiveWindow = Settings.ConnectionWindowSize;
            }
        }
    }

    /// <summary>Queues GOAWAY with the last stream taken.</summary>
    protected void WriteGoAway(Http2ErrorCode error)
    {
        lock (_control)
        {
            FrameWriter.WriteGoAway(_control, LastStreamId, error);
        }
    }

    /// <summary>
    /// Runs the frame loop to its end, then sends GOAWAY saying why (unless the peer is gone). A peer that went away
    /// (a reset, a closed socket) ends it quietly.
    /// </summary>
    protected async Task ServeFramesAsync()
    {
        try
        {
            Http2ErrorCode error = await ReadFramesAsync();
            if (!Closed)
            {
                WriteGoAway(error);
                await FlushControlAsync();
            }
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
        {
            Closed = true;
        }
    }

    /// <summary>The frame loop; returns the error code of the GOAWAY that ends the connection.</summary>
    private async ValueTask<Http2ErrorCode> ReadFramesAsync()
    {
        while (true)
        {
            bool idle;
            lock (Sync)
            {
                idle = Streams.Count == 0;
                if (idle && (GoingAway || CloseRequested))
                {
                    return Http2ErrorCode.NoError;
                }
            }

            if (idle)
            {
                Deadline.Arm(IdleTimeout);
            }

            ReadResult result = await Input.ReadAsync();
            Deadline.Disarm();
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (result.IsCanceled)
            {
                Input.AdvanceTo(buffer.Start, buffer.End);
                if (Deadline.Expired)
                {
                    return Http2ErrorCode.NoError;
                }

                if (CloseRequested && !GoingAway)
                {
                    // §6.8: the streams up to the last one opened are answered; no new one is.
                    GoingAway = true;
                    WriteGoAway(Http2ErrorCode.NoError);
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
                    // §4.2: larger than the SETTINGS_MAX_FRAME_SIZE announced (the default).
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

            Input.AdvanceTo(buffer.Start, buffer.End);
            if (error != Http2ErrorCode.NoError)
            {
                Count(error switch
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
                Closed = true;
                return Http2ErrorCode.NoError;
            }
        }
    }

    /// <summary>Cancels every open stream, and waits for what runs of them to end.</summary>
    protected async Task EndStreamsAsync()
    {
        Closed = true;
        Deadline.Disarm();
        lock (Sync)
        {
            foreach (Http2Stream stream in Streams.Values)
            {
                stream.Cancel();
            }
        }

        if (Volatile.Read(ref _running) > 0)
        {
            var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _stopped, stopped);
            if (Volatile.Read(ref _running) > 0)
            {
                await stopped.Task;
            }
        }

        Deadline.Dispose();
    }

    /// <summary>A stream's code (its relay, its exchange) runs: the connection's end waits for it to stop.</summary>
    public void StreamRunning() => Interlocked.Increment(ref _running);

    public void StreamStopped()
    {
        if (Interlocked.Decrement(ref _running) == 0)
        {
            Volatile.Read(ref _stopped)?.TrySetResult();
        }
    }

    /// <summary>One frame; returns a connection error, or NoError. Stream errors are answered here with RST_STREAM.</summary>
    private Http2ErrorCode OnFrame(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        // §3.4: the peer's preface ends with (or is) a SETTINGS frame.
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
            FrameType.PushPromise => Http2ErrorCode.ProtocolError, // §8.4: clients cannot push, and the gateway disables push.
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
        if (header.StreamId == 0 || header.StreamId > LastStreamId)
        {
            return Http2ErrorCode.ProtocolError; // §6.1; §5.1: DATA on an idle stream.
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
        if (_receiveUnacknowledged >= Settings.ConnectionWindowSize / 2)
        {
            lock (_control)
            {
                FrameWriter.WriteWindowUpdate(_control, 0, (int)_receiveUnacknowledged);
            }

            _receiveWindow += _receiveUnacknowledged;
            _receiveUnacknowledged = 0;
        }

        bool endStream = header.Has(FrameFlags.EndStreamOrAck);
        if (payload.IsEmpty && !endStream && ++_controlFrames > Settings.MaxControlFrames + Opened)
        {
            return Calm(Http2Event.ControlFrameFlood);
        }

        Http2Stream? stream = Find(header.StreamId);
        if (stream is null || stream.PeerReset || stream.EndStreamReceived || !stream.HeadReceived)
        {
            // §5.1, §6.1: closed (the peer reset it too), or half-closed (remote): STREAM_CLOSED; frames on a stream
            // the gateway reset are ignored. DATA before a response head is malformed (§8.1).
            if (stream is { PeerReset: false })
            {
                ResetStream(stream, stream.HeadReceived ? Http2ErrorCode.StreamClosed : Http2ErrorCode.ProtocolError);
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
            // Padding never reaches the reader: its share of the window comes back at once.
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

    /// <summary>Collects a header block's fragments, bounded (CVE-2024-27316: CONTINUATION without end).</summary>
    private bool AppendHeaderBlock(ReadOnlySpan<byte> fragment)
    {
        int length = _headerBlockLength + fragment.Length;
        if (length > MaxHeaderBlockSize)
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

    /// <summary>A whole header block: the trailers of a stream whose head came, or whatever the side makes of it.</summary>
    private Http2ErrorCode OnHeaderBlock(int streamId)
    {
        ReadOnlySpan<byte> block = _headerBlock.AsSpan(0, _headerBlockLength);
        Http2Stream? stream = Find(streamId);
        if (stream is not { HeadReceived: true })
        {
            return OnHeadBlock(streamId, stream, block, _headerBlockEndStream, _selfDependent);
        }

        // Trailers (§8.1): with END_STREAM, no pseudo-header. Decoded first in every case: the decoder's table must
        // stay in step with the peer's.
        TrailerFields.Begin(Settings.MaxHeaderListSize, SectionKind.Trailers);
        if (Decoder.Decode(block, TrailerFields) != HpackResult.Ok)
        {
            return Http2ErrorCode.CompressionError;
        }

        if (stream.PeerReset)
        {
            // §5.1: HEADERS on a stream the peer reset (answered once: later frames on it are ignored).
            if (!WasReset(streamId))
            {
                ResetStream(streamId, Http2ErrorCode.StreamClosed);
            }

            return Http2ErrorCode.NoError;
        }

        if (stream.EndStreamReceived)
        {
            ResetStream(stream, Http2ErrorCode.StreamClosed);
            return Http2ErrorCode.NoError;
        }

        if (!_headerBlockEndStream || TrailerFields.Malformed is not null || TrailerFields.TooLarge
            || (stream.ExpectedLength >= 0 && stream.ReceivedLength != stream.ExpectedLength))
        {
            Count(Http2Event.MalformedRequest);
            ResetStream(stream, Http2ErrorCode.ProtocolError);
            return Http2ErrorCode.NoError;
        }

        stream.EndStreamReceived = true;
        stream.OnTrailers(TrailerFields.TrailerLines);
        return Http2ErrorCode.NoError;
    }

    /// <summary>Checks and collects a trailer section's fields.</summary>
    private FieldSection TrailerFields { get; } = new();

    /// <summary>Whether a stream id was reset by the gateway lately (frames the peer sent before it knew are ignored, §5.1).</summary>
    protected bool WasReset(int streamId) => _recentlyReset.Contains(streamId);

    protected Http2Stream? Find(int streamId)
    {
        lock (Sync)
        {
            return Streams.GetValueOrDefault(streamId);
        }
    }

    /// <summary>The peer's SETTINGS_INITIAL_WINDOW_SIZE: a new stream's send window. Under <see cref="Sync"/>.</summary>
    protected int PeerInitialWindow => _peerInitialWindow;

    /// <summary>
    /// A stream opened without an id gets one as its first HEADERS frame is written (under the write lock); false
    /// when the connection takes no new stream any more.
    /// </summary>
    protected virtual bool TryAssignId(Http2Stream stream) => false;

    /// <summary>A new stream's windows: the peer's for sending, the configured one for receiving.</summary>
    protected void Open(Http2Stream stream)
    {
        lock (Sync)
        {
            stream.SendWindow = _peerInitialWindow;
            Streams[stream.Id] = stream;
            Opened++;
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

        if (header.StreamId > LastStreamId)
        {
            return Http2ErrorCode.ProtocolError; // §6.4: RST_STREAM on an idle stream.
        }

        if (Find(header.StreamId) is { } stream)
        {
            Http2ErrorCode error = OnPeerReset(stream, (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(payload));
            stream.PeerReset = true;
            stream.Cancel();
            return error;
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

        if (_settingsReceived && ++_controlFrames > Settings.MaxControlFrames + Opened)
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
                case SettingId.MaxConcurrentStreams:
                    PeerMaxConcurrentStreams = (int)Math.Min(value, int.MaxValue);
                    break;
                case SettingId.InitialWindowSize:
                    if (value > FrameHeader.MaxWindowSize)
                    {
                        return Http2ErrorCode.FlowControlError;
                    }

                    // §6.9.2: the change applies to every open stream's window, which may go negative.
                    lock (Sync)
                    {
                        long delta = (long)value - _peerInitialWindow;
                        _peerInitialWindow = (int)value;
                        foreach (Http2Stream stream in Streams.Values)
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
            OnPingAck();
            return Http2ErrorCode.NoError;
        }

        if (++_controlFrames > Settings.MaxControlFrames + Opened)
        {
            return Calm(Http2Event.ControlFrameFlood);
        }

        lock (_control)
        {
            FrameWriter.WritePing(_control, payload, ack: true);
        }

        return Http2ErrorCode.NoError;
    }

    /// <summary>The peer answered a PING the gateway sent.</summary>
    protected virtual void OnPingAck()
    {
    }

    /// <summary>Sends a PING (to learn whether the peer is still there).</summary>
    protected void SendPing()
    {
        lock (_control)
        {
            FrameWriter.WritePing(_control, "hgping\0\0"u8, ack: false);
        }

        _ = FlushControlAsync();
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

        OnPeerGoAway((int)(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFF_FFFF));
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

            lock (Sync)
            {
                _sendWindow += increment;
                if (_sendWindow > FrameHeader.MaxWindowSize)
                {
                    return Http2ErrorCode.FlowControlError; // §6.9.1
                }

                foreach (Http2Stream waiting in Streams.Values)
                {
                    WakeForWindow(waiting);
                }
            }

            return Http2ErrorCode.NoError;
        }

        if (header.StreamId > LastStreamId)
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

        lock (Sync)
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

    /// <summary>Under <see cref="Sync"/>: a stream waiting for a window may try again.</summary>
    private static void WakeForWindow(Http2Stream stream)
    {
        if (stream.WaitingForWindow)
        {
            stream.WaitingForWindow = false;
            stream.WindowOpened.Release();
        }
    }

    // --- writing ---------------------------------------------------------------------------------------------

    /// <summary>Resets a stream that has state here: what runs of it is cancelled.</summary>
    public void ResetStream(Http2Stream stream, Http2ErrorCode error)
    {
        stream.Cancel();
        ResetStream(stream.Id, error);
    }

    /// <summary>Sends RST_STREAM (§6.4); a stream that never got an id was never opened, and needs none.</summary>
    public void ResetStream(int streamId, Http2ErrorCode error)
    {
        if (streamId == 0)
        {
            return;
        }

        lock (_control)
        {
            _recentlyReset.Add(streamId);
            FrameWriter.WriteRstStream(_control, streamId, error);
        }

        _ = FlushControlAsync();
    }

    /// <summary>The reader of a stream consumed what arrived: the peer may send as many bytes again on it.</summary>
    public void GrantStreamWindow(Http2Stream stream, int bytes)
    {
        if (stream.Reset || Closed)
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

    protected async Task FlushControlAsync()
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
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushAsync()
    {
        // Read unlocked first: a control frame written after this look is flushed by its own writer.
        if (_control.WrittenCount > 0)
        {
            lock (_control)
            {
                Output.Write(_control.WrittenSpan);
                _control.ResetWrittenCount();
            }
        }

        if (Volatile.Read(ref _writersWaiting) == 0)
        {
            FlushResult flushed = await Output.FlushAsync();
            if (flushed.IsCompleted)
            {
                Closed = true;
            }
        }
    }

    /// <summary>Sends a header block: HEADERS, then CONTINUATION frames past the peer's frame size (§6.10).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> SendHeaderBlockAsync(Http2Stream stream, ReadOnlyMemory<byte> block, bool endStream, bool flush = true)
    {
        await AcquireWriteAsync();
        try
        {
            if (stream.Reset || Closed || stream.OutgoingEnded || (stream.Id == 0 && !TryAssignId(stream)))
            {
                return false;
            }

            FrameType type = FrameType.Headers;
            do
            {
                int length = Math.Min(block.Length, _peerMaxFrameSize);
                FrameFlags flags = (length == block.Length ? FrameFlags.EndHeaders : FrameFlags.None)
                    | (type == FrameType.Headers && endStream ? FrameFlags.EndStreamOrAck : FrameFlags.None);
                new FrameHeader(length, type, flags, stream.Id).Write(Output.GetSpan(FrameHeader.Size));
                Output.Advance(FrameHeader.Size);
                Output.Write(block.Span[..length]);
                stream.OutgoingEnded |= (flags & FrameFlags.EndStreamOrAck) != 0;
                block = block[length..];
                type = FrameType.Continuation;
            }
            while (!block.IsEmpty);

            if (flush)
            {
                await FlushAsync();
            }

            return !Closed;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Sends body bytes as DATA frames within the stream's and the connection's windows (§6.9.1), waiting for the
    /// peer to open them at most send_timeout; false when the stream or connection ended first.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> SendDataAsync(Http2Stream stream, ReadOnlySequence<byte> data, bool endStream)
    {
        while (true)
        {
            int length;
            lock (Sync)
            {
                if (stream.Reset || Closed)
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
                // What was written unflushed (a head sent with its body in mind) goes out before the wait.
                await FlushControlAsync();
                using var timeout = new CancellationTokenSource(Settings.SendTimeout, Time);
                try
                {
                    await stream.WindowOpened.WaitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    // A peer that never opens its window cannot hold the stream (and what waits on it) for ever.
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
                if (stream.Reset || Closed || stream.OutgoingEnded)
                {
                    return false;
                }

                FrameWriter.WriteDataHeader(Output, stream.Id, length, last);
                stream.OutgoingEnded |= last;
                foreach (ReadOnlyMemory<byte> segment in data.Slice(0, length))
                {
                    Output.Write(segment.Span);
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
                return !Closed;
            }
        }
    }

    /// <summary>Ends the gateway's side of a stream with an empty DATA frame (END_STREAM), unless it has ended.</summary>
    public async ValueTask EndOutgoingAsync(Http2Stream stream)
    {
        await AcquireWriteAsync();
        try
        {
            if (stream.Reset || Closed || stream.OutgoingEnded)
            {
                return;
            }

            FrameWriter.WriteDataHeader(Output, stream.Id, 0, endStream: true);
            stream.OutgoingEnded = true;
            await FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>A bounded memory of stream ids, oldest forgotten first.</summary>
    private sealed class RecentStreams
    {
        private readonly int[] _ids = new int[64];
        private int _next;

        public void Add(int id) => _ids[_next++ % _ids.Length] = id;

        public bool Contains(int id) => Array.IndexOf(_ids, id) >= 0;
    }
}
