using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using HyperGate.Connection;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Http2.Hpack;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Http2;

/// <summary>
/// One request stream (RFC 9113 §5.1) driving the exchange pipeline. The exchange reads the request body from a pipe
/// the connection's DATA frames fill, and writes its response in HTTP/1.1 form, as it would to a client connection,
/// into a pipe this stream reads: the response head becomes a HEADERS frame, the body (de-chunked) DATA frames within
/// the client's flow-control windows, chunked trailers a trailing HEADERS frame. The one pipeline is untouched by
/// the protocol that carries its request.
/// </summary>
internal sealed class Http2Stream
{
    private readonly Http2Connection _connection;
    private readonly Pipe _requestBody = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Pipe _response = new(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, useSynchronizationContext: false));
    private readonly ResponseHead _responseHead = new();
    private byte[] _headerBlock = new byte[512];
    private int _unacknowledged;
    private bool _bodyClosed;

    public Http2Stream(Http2Connection connection, int id, ExchangePipeline pipeline, bool endStream, long contentLength)
    {
        _connection = connection;
        Id = id;
        Pipeline = pipeline;
        EndStreamReceived = endStream;
        ExpectedLength = contentLength;
        BodyReader = new RequestBodyReader(this, _requestBody.Reader);
        if (endStream)
        {
            _bodyClosed = true;
            _requestBody.Writer.Complete();
        }
    }

    public int Id { get; }

    public ExchangePipeline Pipeline { get; }

    /// <summary>What the exchange reads the request body from.</summary>
    public PipeReader BodyReader { get; }

    public PipeWriter ResponseWriter => _response.Writer;

    /// <summary>The request body goes on chunked: the client declared no length.</summary>
    public bool ChunkedBody { get; set; }

    /// <summary>The client's END_STREAM arrived (half-closed, remote: §5.1). Read-loop only.</summary>
    public bool EndStreamReceived { get; set; }

    /// <summary>The request's content-length, or -1; DATA must add up to it (§8.1.1). Read-loop only.</summary>
    public long ExpectedLength { get; }

    public long ReceivedLength { get; set; }

    /// <summary>The client's flow-control window for what this stream sends; guarded by the connection.</summary>
    public long SendWindow { get; set; }

    /// <summary>A response waits for <see cref="SendWindow"/> or the connection's window to open; guarded by the connection.</summary>
    public bool WaitingForWindow { get; set; }

    /// <summary>What the client may still send on the stream before the gateway opens its window again.</summary>
    public long ReceiveWindow
    {
        get => Interlocked.Read(ref _receiveWindow);
        init => _receiveWindow = value;
    }

    public void AddReceiveWindow(long bytes) => Interlocked.Add(ref _receiveWindow, bytes);

    private long _receiveWindow;

    /// <summary>Signalled when a window this stream waits on opened, or the stream was reset.</summary>
    public SemaphoreSlim WindowOpened { get; } = new(0);

    /// <summary>The stream was reset (by the client, or by the gateway on an error): nothing more is sent on it.</summary>
    public volatile bool Reset;

    /// <summary>The last frame the gateway sent on it carried END_STREAM.</summary>
    public bool ResponseEnded { get; private set; }

    public Task Running { get; set; } = Task.CompletedTask;

    /// <summary>DATA payload received: passed on to the exchange's body pipe (chunk-framed when no length was declared).</summary>
    public void OnData(ReadOnlySpan<byte> data, bool endStream)
    {
        lock (_requestBody)
        {
            Interlocked.Add(ref _unacknowledged, data.Length);
            if (_bodyClosed)
            {
                return;
            }

            PipeWriter writer = _requestBody.Writer;
            if (ChunkedBody && data.Length > 0)
            {
                Span<byte> size = writer.GetSpan(10);
                data.Length.TryFormat(size, out int written, "x");
                "\r\n"u8.CopyTo(size[written..]);
                writer.Advance(written + 2);
            }

            writer.Write(data);
            if (ChunkedBody && data.Length > 0)
            {
                writer.Write("\r\n"u8);
            }

            if (endStream)
            {
                if (ChunkedBody)
                {
                    writer.Write("0\r\n\r\n"u8);
                }

                _bodyClosed = true;
                writer.Complete();
            }
            else
            {
                // Never blocks: the pipe has no pause threshold, and the client's window bounds what it holds.
                _ = writer.FlushAsync();
            }
        }
    }

    /// <summary>The request's trailer section (§8.1): passed on with a chunked body, dropped from one with a length.</summary>
    public void OnTrailers(ReadOnlySpan<byte> lines)
    {
        lock (_requestBody)
        {
            if (_bodyClosed)
            {
                return;
            }

            PipeWriter writer = _requestBody.Writer;
            if (ChunkedBody)
            {
                writer.Write("0\r\n"u8);
                writer.Write(lines);
                writer.Write("\r\n"u8);
            }

            _bodyClosed = true;
            writer.Complete();
        }
    }

    /// <summary>The request body ends without being whole (a reset, a malformed length, the connection's end).</summary>
    public void AbortBody()
    {
        lock (_requestBody)
        {
            if (!_bodyClosed)
            {
                _bodyClosed = true;
                _requestBody.Writer.Complete(new ConnectionAbortedException("the HTTP/2 stream was reset"));
            }
        }
    }

    /// <summary>Resets the stream from the gateway's side: nothing more goes either way.</summary>
    public void Cancel()
    {
        Reset = true;
        AbortBody();
        WindowOpened.Release();
        _response.Reader.CancelPendingRead();
    }

    /// <summary>The exchange consumed request body bytes: the client may send as many more (never more than it sent).</summary>
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
            _connection.GrantStreamWindow(this, grant);
        }
    }

    /// <summary>Runs the exchange and relays its response; the connection is told when both are done.</summary>
    public async Task RunAsync(RejectionReason headRejection)
    {
        Task relay = RelayResponseAsync();
        try
        {
            await Pipeline.RunAsync(headRejection);
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
        {
            // The client reset the stream or left mid-exchange; nothing is left to answer.
        }
        finally
        {
            await _response.Writer.CompleteAsync();
        }

        await relay;
        AbortBody();
        await _requestBody.Reader.CompleteAsync();
        _connection.OnStreamEnded(this);
    }

    /// <summary>Reads the exchange's HTTP/1.1-form response and sends it as frames.</summary>
    private async Task RelayResponseAsync()
    {
        PipeReader reader = _response.Reader;
        ResponseHead head = _responseHead;
        HttpMethod method = Pipeline.Exchange.Request.Method;
        BodyFraming framing = BodyFraming.None;
        bool headSent = false;
        long remaining = 0;
        var chunks = new ChunkDecoder();
        try
        {
            while (!Reset)
            {
                ReadResult result = await reader.ReadAsync();
                ReadOnlySequence<byte> buffer = result.Buffer;
                if (result.IsCanceled || Reset)
                {
                    return;
                }

                while (!headSent)
                {
                    ParseStatus status = ResponseHeadParser.TryParse(buffer, head, HeadLimits.UpstreamResponse, out SequencePosition consumed, out _, out _);
                    if (status == ParseStatus.Rejected)
                    {
                        _connection.ResetStream(this, Http2ErrorCode.InternalError);
                        return;
                    }

                    if (status != ParseStatus.Complete)
                    {
                        break;
                    }

                    buffer = buffer.Slice(consumed);
                    if (head.StatusCode < 200)
                    {
                        // An interim response (100 Continue, 103 Early Hints) is a HEADERS frame of its own (§8.1).
                        await SendHeadAsync(head, method, endStream: false);
                        continue;
                    }

                    framing = head.GetBodyFraming(method);
                    remaining = head.ContentLength;
                    headSent = true;
                    bool noBody = framing == BodyFraming.None || (framing == BodyFraming.ContentLength && remaining == 0);
                    if (!await SendHeadAsync(head, method, endStream: noBody) || noBody)
                    {
                        return;
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
                            _connection.ResetStream(this, Http2ErrorCode.InternalError);
                            return;
                        }

                        if (step == ChunkStep.End)
                        {
                            // §8.1: trailers are a HEADERS frame that ends the stream; without any, an empty DATA frame does.
                            bool sent = chunks.TrailerLength > 0 ? await SendTrailersAsync(chunks) : await _connection.SendDataAsync(this, ReadOnlySequence<byte>.Empty, endStream: true);
                            ResponseEnded = sent;
                            return;
                        }
                    }

                    buffer = buffer.Slice(data.End);
                    if (!await _connection.SendDataAsync(this, data, last))
                    {
                        return;
                    }

                    if (last)
                    {
                        ResponseEnded = true;
                        return;
                    }
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    if (headSent && framing == BodyFraming.UntilClose)
                    {
                        ResponseEnded = await _connection.SendDataAsync(this, ReadOnlySequence<byte>.Empty, endStream: true);
                        return;
                    }

                    // The exchange ended before its response did (the upstream cut it short, or no answer was written):
                    // the client must not take what it got for whole.
                    _connection.ResetStream(this, Http2ErrorCode.InternalError);
                    return;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    /// <summary>
    /// Sends a response head as HEADERS: the status, and the fields the client may see (RFC 9113 §8.2.2: no
    /// connection-specific field; names lowercase, §8.2.1), with the content-length the HTTP/1.1 framing carried.
    /// </summary>
    private ValueTask<bool> SendHeadAsync(ResponseHead head, HttpMethod method, bool endStream)
    {
        int length = HpackEncoder.WriteStatus(head.StatusCode, Reserve(5));
        foreach (ref readonly HeaderField field in head.Headers)
        {
            ReadOnlySpan<byte> name = head.NameOf(field);
            if (IsConnectionSpecific(name))
            {
                continue;
            }

            length = AppendField(length, name, head.ValueOf(field));
        }

        return _connection.SendHeaderBlockAsync(this, _headerBlock.AsMemory(0, length), endStream);
    }

    private ValueTask<bool> SendTrailersAsync(ChunkDecoder chunks)
    {
        int length = 0;
        ReadOnlySpan<byte> lines = chunks.Trailers;
        while (!lines.IsEmpty)
        {
            int end = lines.IndexOf("\r\n"u8);
            ReadOnlySpan<byte> line = lines[..end];
            lines = lines[(end + 2)..];
            int colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                continue;
            }

            ReadOnlySpan<byte> name = line[..colon];
            if (!IsConnectionSpecific(name))
            {
                length = AppendField(length, name, line[(colon + 1)..].Trim(" \t"u8));
            }
        }

        return _connection.SendHeaderBlockAsync(this, _headerBlock.AsMemory(0, length), endStream: true);
    }

    private int AppendField(int length, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Span<byte> lowercase = name.Length <= 256 ? stackalloc byte[name.Length] : new byte[name.Length];
        Ascii.ToLower(name, lowercase, out _);
        Span<byte> destination = Reserve(length + HpackEncoder.MaxFieldLength(name.Length, value.Length))[length..];
        return length + HpackEncoder.WriteField(lowercase, value, destination);
    }

    private Span<byte> Reserve(int size)
    {
        if (_headerBlock.Length < size)
        {
            Array.Resize(ref _headerBlock, Math.Max(size, _headerBlock.Length * 2));
        }

        return _headerBlock;
    }

    private static bool IsConnectionSpecific(ReadOnlySpan<byte> name) =>
        Ascii.EqualsIgnoreCase(name, "connection"u8) || Ascii.EqualsIgnoreCase(name, "keep-alive"u8) || Ascii.EqualsIgnoreCase(name, "proxy-connection"u8)
        || Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8) || Ascii.EqualsIgnoreCase(name, "upgrade"u8);

    /// <summary>Reports what the exchange consumed of the request body, to open the stream's window again.</summary>
    private sealed class RequestBodyReader(Http2Stream stream, PipeReader inner) : PipeReader
    {
        private ReadOnlySequence<byte> _last;

        public override bool TryRead(out ReadResult result)
        {
            bool read = inner.TryRead(out result);
            _last = result.Buffer;
            return read;
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            ValueTask<ReadResult> read = inner.ReadAsync(cancellationToken);
            if (read.IsCompletedSuccessfully)
            {
                ReadResult result = read.Result;
                _last = result.Buffer;
                return new ValueTask<ReadResult>(result);
            }

            return Remember(read);
        }

        private async ValueTask<ReadResult> Remember(ValueTask<ReadResult> read)
        {
            ReadResult result = await read;
            _last = result.Buffer;
            return result;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            long bytes = _last.Slice(_last.Start, consumed).Length;
            inner.AdvanceTo(consumed, examined);
            _last = default;
            if (bytes > 0)
            {
                stream.OnConsumed(bytes);
            }
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);
    }
}
