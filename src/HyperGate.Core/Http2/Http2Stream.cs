using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Tasks.Sources;
using HyperGate.Buffers;
using HyperGate.Http1;
using HyperGate.Http2.Hpack;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Http2;

/// <summary>
/// One stream (RFC 9113 §5.1), seen by the rest of the gateway as an HTTP/1.1 connection carrying one exchange:
/// what arrives in frames is written in HTTP/1.1 form into a pipe (<see cref="IncomingReader"/>: the body
/// chunk-framed when no length was declared, trailers as the chunked trailer section), and what the gateway writes
/// in HTTP/1.1 form (<see cref="OutgoingWriter"/>) is sent as frames: the head as HEADERS, the body (de-chunked)
/// as DATA within the peer's windows, chunked trailers as a trailing HEADERS frame. The HTTP/1.1 code on either
/// side (the exchange pipeline downstream, the forwarder upstream) stays untouched by the protocol.
/// </summary>
internal abstract class Http2Stream
{
    /// <summary>
    /// The streams' pipes take their blocks from a pool that keeps them: with the shared array pool, a connection's
    /// hundred streams held more buffers at once than it keeps, and a load run allocated a new 4 KiB array for
    /// almost every request. 16 KiB is the largest DATA frame a peer must accept (RFC 9113 §4.2).
    /// </summary>
    private static readonly RetainingBlockPool Blocks = new(blockSize: 16 * 1024);

    // Both pipes resume their reader inline, on the writer's thread: a response written by the exchange is framed
    // at once, and DATA the loop receives goes on to the upstream without a hop through the thread pool.
    private static readonly PipeOptions IncomingOptions = new(Blocks, readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 0, minimumSegmentSize: Blocks.BlockSize, useSynchronizationContext: false);
    private static readonly PipeOptions OutgoingOptions = new(Blocks, readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, minimumSegmentSize: Blocks.BlockSize, useSynchronizationContext: false);
    private readonly Pipe _incoming = new(IncomingOptions);
    private readonly Pipe _outgoing = new(OutgoingOptions);
    private readonly ConsumptionReader _incomingReader;
    private readonly StreamSignal _relayStart = new();
    private readonly StreamSignal _relayDone = new();
    private readonly ChunkDecoder _chunks = new();
    private bool _relayLooping;
    private byte[] _headerBlock = new byte[512];
    private long _receiveWindow;
    private int _unacknowledged;
    private volatile bool _incomingClosed;

    protected Http2Stream(Http2Session session, int id, int receiveWindow)
    {
        Session = session;
        Id = id;
        _receiveWindow = receiveWindow;
        _incomingReader = new ConsumptionReader(this, _incoming.Reader);
    }

    public int Id { get; private set; }

    /// <summary>Gives a stream the gateway opened its id, as its first HEADERS frame is written.</summary>
    public void AssignId(int id) => Id = id;

    public Http2Session Session { get; private set; }

    /// <summary>What arrived on the stream, in HTTP/1.1 form.</summary>
    public PipeReader IncomingReader => _incomingReader;

    /// <summary>What the stream sends, written in HTTP/1.1 form.</summary>
    public PipeWriter OutgoingWriter => _outgoing.Writer;

    /// <summary>The incoming head arrived (a request's, at once; a response's when its final HEADERS came).</summary>
    public bool HeadReceived { get; protected set; }

    /// <summary>The peer's END_STREAM arrived (half-closed, remote: §5.1). Read-loop only.</summary>
    public bool EndStreamReceived { get; set; }

    /// <summary>The incoming content-length, or -1; DATA must add up to it (§8.1.1). Read-loop only.</summary>
    public long ExpectedLength { get; protected set; } = -1;

    public long ReceivedLength { get; set; }

    /// <summary>The incoming body is written chunk-framed: no length was declared.</summary>
    protected bool IncomingChunked { get; set; }

    /// <summary>The peer's flow-control window for what this stream sends; guarded by the session.</summary>
    public long SendWindow { get; set; }

    /// <summary>A send waits for <see cref="SendWindow"/> or the connection's window to open; guarded by the session.</summary>
    public bool WaitingForWindow { get; set; }

    /// <summary>What the peer may still send on the stream before the gateway opens its window again.</summary>
    public long ReceiveWindow => Interlocked.Read(ref _receiveWindow);

    public void AddReceiveWindow(long bytes) => Interlocked.Add(ref _receiveWindow, bytes);

    /// <summary>Signalled when a window this stream waits on opened, or the stream was reset.</summary>
    public SemaphoreSlim WindowOpened { get; } = new(0);

    /// <summary>The stream was reset (by the peer, or by the gateway on an error): nothing more is sent on it.</summary>
    public volatile bool Reset;

    /// <summary>The peer reset the stream: what it sends on it from now on is on a closed stream (§5.1). Read-loop only.</summary>
    public bool PeerReset { get; set; }

    /// <summary>
    /// The gateway wrote a frame with END_STREAM on it (set as the frame is written, so that whoever sees the peer's
    /// answer next never takes the stream for unfinished).
    /// </summary>
    public bool OutgoingEnded { get; set; }

    /// <summary>Writes an incoming head (HTTP/1.1 form); with <paramref name="endStream"/> nothing follows it.</summary>
    protected void WriteIncoming(ReadOnlySpan<byte> head, bool endStream)
    {
        lock (_incoming)
        {
            if (_incomingClosed)
            {
                return;
            }

            if (!head.IsEmpty)
            {
                // Not even an empty write: it takes a block, which an exchange that reads nothing never releases.
                _incoming.Writer.Write(head);
            }

            if (endStream)
            {
                _incomingClosed = true;
                _incoming.Writer.Complete();
            }
            else
            {
                _ = _incoming.Writer.FlushAsync();
            }
        }
    }

    /// <summary>DATA payload arrived: passed on, chunk-framed when no length was declared.</summary>
    public void OnData(ReadOnlySpan<byte> data, bool endStream)
    {
        lock (_incoming)
        {
            Interlocked.Add(ref _unacknowledged, data.Length);
            if (_incomingClosed)
            {
                return;
            }

            PipeWriter writer = _incoming.Writer;
            if (IncomingChunked && data.Length > 0)
            {
                Span<byte> size = writer.GetSpan(10);
                data.Length.TryFormat(size, out int written, "x");
                "\r\n"u8.CopyTo(size[written..]);
                writer.Advance(written + 2);
            }

            writer.Write(data);
            if (IncomingChunked && data.Length > 0)
            {
                writer.Write("\r\n"u8);
            }

            if (endStream)
            {
                if (IncomingChunked)
                {
                    writer.Write("0\r\n\r\n"u8);
                }

                _incomingClosed = true;
                writer.Complete();
            }
            else
            {
                // Never blocks: the pipe has no pause threshold, and the peer's window bounds what it holds.
                _ = writer.FlushAsync();
            }
        }
    }

    /// <summary>The trailer section (§8.1): passed on after a chunked body, dropped after one with a length.</summary>
    public void OnTrailers(ReadOnlySpan<byte> lines)
    {
        lock (_incoming)
        {
            if (_incomingClosed)
            {
                return;
            }

            PipeWriter writer = _incoming.Writer;
            if (IncomingChunked)
            {
                writer.Write("0\r\n"u8);
                writer.Write(lines);
                writer.Write("\r\n"u8);
            }

            _incomingClosed = true;
            writer.Complete();
        }
    }

    /// <summary>What arrives ends without being whole (a reset, a malformed length, the connection's end).</summary>
    public void AbortIncoming()
    {
        if (_incomingClosed)
        {
            return;
        }

        lock (_incoming)
        {
            if (!_incomingClosed)
            {
                _incomingClosed = true;
                _incoming.Writer.Complete(new ConnectionAbortedException("the HTTP/2 stream was reset"));
            }
        }
    }

    /// <summary>Nothing more goes either way.</summary>
    public void Cancel()
    {
        Reset = true;
        AbortIncoming();
        WindowOpened.Release();
        _outgoing.Reader.CancelPendingRead();
    }

    /// <summary>The incoming reader consumed bytes: the peer may send as many more (never more than it sent).</summary>
    private void OnConsumed(long bytes)
    {
        int current, grant;
        do
        {
            current = Volatile.Read(ref _unacknowledged);
            grant = (int)Math.Min(bytes, current);
        }
        while (grant > 0 && Interlocked.CompareExchange(ref _unacknowledged, current - grant, current) != current);

        if (grant > 0 && !EndStreamReceived)
        {
            Session.GrantStreamWindow(this, grant);
        }
    }

    /// <summary>
    /// Makes a stream that ended (both pipes completed, nothing of it running) serve a new stream id: the pipes,
    /// flow control and state start over.
    /// </summary>
    protected void Reuse(Http2Session session, int id, int receiveWindow)
    {
        Session = session;
        _incoming.Reset();
        _outgoing.Reset();
        Id = id;
        _receiveWindow = receiveWindow;
        _unacknowledged = 0;
        _incomingClosed = false;
        HeadReceived = EndStreamReceived = WaitingForWindow = OutgoingEnded = IncomingChunked = false;
        Reset = PeerReset = false;
        ExpectedLength = -1;
        ReceivedLength = SendWindow = 0;
        while (WindowOpened.CurrentCount > 0 && WindowOpened.Wait(0))
        {
            // A release left by the cancellation of the stream's last use.
        }
    }

    /// <summary>Ends both pipes once neither side uses them.</summary>
    protected async ValueTask CompletePipesAsync()
    {
        AbortIncoming();
        await _incoming.Reader.CompleteAsync();
        await _outgoing.Writer.CompleteAsync();
    }

    /// <summary>An outgoing head made a header block: how its body is framed, or that it is interim (1xx).</summary>
    protected readonly record struct OutgoingHead(BodyFraming Framing, long Length, bool Interim, int BlockLength);

    /// <summary>
    /// Parses the outgoing head at the buffer's start into a header block (<see cref="AppendField"/> after
    /// <see cref="BeginBlock"/>) in the stream's buffer.
    /// </summary>
    protected abstract ParseStatus ParseOutgoingHead(in ReadOnlySequence<byte> buffer, out SequencePosition consumed, out OutgoingHead head);

    /// <summary>
    /// Starts relaying what the gateway writes for this use of the stream; <see cref="RelayedAsync"/> completes
    /// when the relay ended. The relay is a loop that lives as long as the stream object (see <see cref="StreamSignal"/>).
    /// </summary>
    protected void StartRelay()
    {
        Session.StreamRunning();
        _relayDone.Reset();
        if (_relayLooping)
        {
            _relayStart.Set();
        }
        else
        {
            _relayLooping = true;
            _ = RelayLoopAsync();
        }
    }

    /// <summary>The relay this use started ended (awaited once per use).</summary>
    protected ValueTask RelayedAsync() => _relayDone.WaitAsync();

    /// <summary>Reads what the gateway writes in HTTP/1.1 form and sends it as frames, once per use of the stream.</summary>
    private async Task RelayLoopAsync()
    {
        while (true)
        {
            PipeReader reader = _outgoing.Reader;
            BodyFraming framing = BodyFraming.None;
            bool headSent = false;
            long remaining = 0;
            ChunkDecoder chunks = _chunks;
            chunks.Reset();
            ReadOnlySequence<byte> unread = default;
            try
            {
                while (!Reset)
                {
                    ReadResult result = await reader.ReadAsync();
                    ReadOnlySequence<byte> buffer = unread = result.Buffer;
                    if (result.IsCanceled || Reset)
                    {
                        goto Relayed;
                    }

                    while (!headSent)
                    {
                        ParseStatus status = ParseOutgoingHead(buffer, out SequencePosition consumed, out OutgoingHead head);
                        if (status == ParseStatus.Rejected)
                        {
                            Session.ResetStream(this, Http2ErrorCode.InternalError);
                            goto Relayed;
                        }

                        if (status != ParseStatus.Complete)
                        {
                            break;
                        }

                        buffer = buffer.Slice(consumed);
                        int blockLength = head.BlockLength;
                        if (head.Interim)
                        {
                            // An interim response (100 Continue, 103 Early Hints) is a HEADERS frame of its own (§8.1).
                            await Session.SendHeaderBlockAsync(this, _headerBlock.AsMemory(0, blockLength), endStream: false);
                            continue;
                        }

                        (framing, remaining) = (head.Framing, head.Length);
                        headSent = true;
                        bool noBody = framing == BodyFraming.None || (framing == BodyFraming.ContentLength && remaining == 0);

                        // Body bytes already here go out with the head, in one write.
                        if (!await Session.SendHeaderBlockAsync(this, _headerBlock.AsMemory(0, blockLength), endStream: noBody, flush: noBody || buffer.IsEmpty))
                        {
                            goto Relayed;
                        }

                        if (noBody)
                        {
                            goto Relayed;
                        }
                    }

                    while (headSent && !buffer.IsEmpty)
                    {
                        ReadOnlySequence<byte> data;
                        bool last = false;
                        if (framing == BodyFraming.ContentLength)
                        {
                            data = buffer.Slice(0, Math.Min(buffer.Length, remaining));
                            remaining -= data.Length;
                            last = remaining == 0;
                        }
                        else if (framing == BodyFraming.UntilClose)
                        {
                            data = buffer;
                        }
                        else
                        {
                            ChunkStep step = chunks.Next(ref buffer, out data);
                            if (step == ChunkStep.NeedMore)
                            {
                                break;
                            }

                            if (step == ChunkStep.Invalid)
                            {
                                Session.ResetStream(this, Http2ErrorCode.InternalError);
                                goto Relayed;
                            }

                            if (step == ChunkStep.End)
                            {
                                // §8.1: trailers are a HEADERS frame that ends the stream; without any, an empty DATA frame does.
                                _ = chunks.TrailerLength > 0
                                    ? await Session.SendHeaderBlockAsync(this, TrailerBlock(chunks.Trailers), endStream: true)
                                    : await Session.SendDataAsync(this, ReadOnlySequence<byte>.Empty, endStream: true);
                                goto Relayed;
                            }
                        }

                        buffer = buffer.Slice(data.End);
                        if (!await Session.SendDataAsync(this, data, last))
                        {
                            goto Relayed;
                        }

                        if (last)
                        {
                            goto Relayed;
                        }
                    }

                    reader.AdvanceTo(buffer.Start, buffer.End);
                    unread = default;
                    if (result.IsCompleted)
                    {
                        if (headSent && framing == BodyFraming.UntilClose)
                        {
                            await Session.SendDataAsync(this, ReadOnlySequence<byte>.Empty, endStream: true);
                            goto Relayed;
                        }

                        // The writer ended before its message did (an upstream cut it short, or nothing was written):
                        // the peer must not take what it got for whole.
                        Session.ResetStream(this, Http2ErrorCode.InternalError);
                        goto Relayed;
                    }
                }
            }
            catch (Exception)
            {
                // Whatever ended the relay (the connection failing under a write), this use of the stream is over:
                // the loop must live on for the next.
            }
            finally
            {
                // Whatever is left is not wanted; consumed, its blocks go back to the pool (the pipe drops the
                // blocks of data left unconsumed when it completes).
                if (unread.Length > 0)
                {
                    reader.AdvanceTo(unread.End);
                }

                await reader.CompleteAsync();
            }

        Relayed:
            // Armed before the owner hears of the end: it may start the next use at once, from its own thread.
            _relayStart.Reset();
            Session.StreamStopped();
            _relayDone.Set();
            await _relayStart.WaitAsync();
        }
    }

    private ReadOnlyMemory<byte> TrailerBlock(ReadOnlySpan<byte> lines)
    {
        int length = BeginBlock();
        while (!lines.IsEmpty)
        {
            int end = lines.IndexOf("\r\n"u8);
            ReadOnlySpan<byte> line = lines[..end];
            lines = lines[(end + 2)..];
            int colon = line.IndexOf((byte)':');
            if (colon > 0 && !IsConnectionSpecific(line[..colon]))
            {
                ReadOnlySpan<byte> value = line[(colon + 1)..].Trim(" \t"u8);
                length = AppendField(length, line[..colon], value);
            }
        }

        return _headerBlock.AsMemory(0, length);
    }

    /// <summary>Starts a header block in the stream's buffer; returns its length so far (0).</summary>
    protected static int BeginBlock() => 0;

    /// <summary>Appends a pseudo-header field (its name as given).</summary>
    protected int AppendPseudoField(int length, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Span<byte> destination = Reserve(length + HpackEncoder.MaxFieldLength(name.Length, value.Length)).AsSpan(length);
        return length + HpackEncoder.WriteField(name, value, destination);
    }

    /// <summary>Appends a field, its name lowercased (RFC 9113 §8.2.1).</summary>
    protected int AppendField(int length, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Span<byte> lowercase = name.Length <= 256 ? stackalloc byte[name.Length] : new byte[name.Length];
        Ascii.ToLower(name, lowercase, out _);
        return AppendPseudoField(length, lowercase, value);
    }

    /// <summary>Appends <c>:status</c>.</summary>
    protected int AppendStatus(int length, int status) => length + HpackEncoder.WriteStatus(status, Reserve(length + 5).AsSpan(length));

    private byte[] Reserve(int size)
    {
        if (_headerBlock.Length < size)
        {
            Array.Resize(ref _headerBlock, Math.Max(size, _headerBlock.Length * 2));
        }

        return _headerBlock;
    }

    /// <summary>RFC 9113 §8.2.2: fields that mean something to one HTTP/1.1 connection only.</summary>
    public static bool IsConnectionSpecific(ReadOnlySpan<byte> name) =>
        Ascii.EqualsIgnoreCase(name, "connection"u8) || Ascii.EqualsIgnoreCase(name, "keep-alive"u8) || Ascii.EqualsIgnoreCase(name, "proxy-connection"u8)
        || Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8) || Ascii.EqualsIgnoreCase(name, "upgrade"u8);

    /// <summary>
    /// Reports what the reader consumed, to open the stream's window again. A read that waits completes through this
    /// object (it remembers the buffer it hands out), so that waiting allocates nothing: an async method per read
    /// would allocate its state on every read that waits, and a streamed request body's reads mostly do.
    /// </summary>
    private sealed class ConsumptionReader : PipeReader, IValueTaskSource<ReadResult>
    {
        private readonly Http2Stream _stream;
        private readonly PipeReader _inner;
        private readonly Action _innerCompleted;
        private ManualResetValueTaskSourceCore<ReadResult> _read;
        private ValueTaskAwaiter<ReadResult> _pending;
        private ReadOnlySequence<byte> _last;

        public ConsumptionReader(Http2Stream stream, PipeReader inner)
        {
            _stream = stream;
            _inner = inner;
            _innerCompleted = OnInnerCompleted;
        }

        public override bool TryRead(out ReadResult result)
        {
            bool read = _inner.TryRead(out result);
            _last = result.Buffer;
            return read;
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            ValueTask<ReadResult> read = _inner.ReadAsync(cancellationToken);
            if (read.IsCompletedSuccessfully)
            {
                ReadResult result = read.Result;
                _last = result.Buffer;
                return new ValueTask<ReadResult>(result);
            }

            _read.Reset();
            _pending = read.GetAwaiter();
            _pending.UnsafeOnCompleted(_innerCompleted);
            return new ValueTask<ReadResult>(this, _read.Version);
        }

        private void OnInnerCompleted()
        {
            ValueTaskAwaiter<ReadResult> pending = _pending;
            _pending = default;
            try
            {
                ReadResult result = pending.GetResult();
                _last = result.Buffer;
                _read.SetResult(result);
            }
            catch (Exception e)
            {
                _read.SetException(e);
            }
        }

        ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _read.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _read.GetStatus(token);

        void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _read.OnCompleted(continuation, state, token, flags);

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            long bytes = _last.Slice(_last.Start, consumed).Length;
            _inner.AdvanceTo(consumed, examined);
            _last = default;
            if (bytes > 0)
            {
                _stream.OnConsumed(bytes);
            }
        }

        public override void CancelPendingRead() => _inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => _inner.Complete(exception);
    }
}
