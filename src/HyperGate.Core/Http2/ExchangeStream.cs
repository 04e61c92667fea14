using System.Buffers;
using HyperGate.Connection;
using HyperGate.Http1;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Http2;

/// <summary>
/// A downstream request stream driving the exchange pipeline: the exchange reads the request body from the
/// stream's incoming pipe and writes its response, as it would to a client connection, into the outgoing one.
/// </summary>
internal sealed class ExchangeStream : Http2Stream
{
    private Http2Connection _connection;
    private readonly ResponseHead _responseHead = new();
    private readonly StreamSignal _runStart = new();
    private RejectionReason _headRejection;
    private bool _looping;

    public ExchangeStream(Http2Connection connection, int id, ExchangePipeline pipeline, bool endStream, long contentLength, int receiveWindow)
        : base(connection, id, receiveWindow)
    {
        _connection = connection;
        Pipeline = pipeline;
        Begin(endStream, contentLength);
    }

    public ExchangePipeline Pipeline { get; }

    /// <summary>A stream that ended serves a new request of <paramref name="connection"/> (its pipes and pipeline with it).</summary>
    public void Reuse(Http2Connection connection, int id, bool endStream, long contentLength, int receiveWindow)
    {
        _connection = connection;
        Reuse(connection, id, receiveWindow);
        Begin(endStream, contentLength);
    }

    private void Begin(bool endStream, long contentLength)
    {
        HeadReceived = true;
        ExpectedLength = contentLength;
        IncomingChunked = !endStream && contentLength < 0;
        EndStreamReceived = endStream;
        if (endStream)
        {
            WriteIncoming([], endStream: true);
        }
    }

    /// <summary>
    /// Runs the exchange and relays its response; the connection is told when both are done. Like the relay, the
    /// run is a loop living as long as the stream object: a stream reused for a later request allocates nothing.
    /// </summary>
    public void Start(RejectionReason headRejection)
    {
        _headRejection = headRejection;
        Session.StreamRunning();
        if (_looping)
        {
            _runStart.Set();
        }
        else
        {
            _looping = true;
            _ = RunLoopAsync();
        }
    }

    private async Task RunLoopAsync()
    {
        while (true)
        {
            StartRelay();
            try
            {
                await Pipeline.RunAsync(_headRejection);
            }
            catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException or InvalidOperationException)
            {
                // The client reset the stream or left mid-exchange; nothing is left to answer.
            }
            finally
            {
                await OutgoingWriter.CompleteAsync();
            }

            await RelayedAsync();
            await CompletePipesAsync();

            // Armed before the stream can be reused: a connection may start it again at once, from its frame loop.
            _runStart.Reset();
            Http2Session session = Session;
            _connection.OnStreamEnded(this);
            session.StreamStopped();
            await _runStart.WaitAsync();
        }
    }

    /// <summary>
    /// The response head as HEADERS: the status, and the fields the client may see (RFC 9113 §8.2.2: no
    /// connection-specific field; names lowercase, §8.2.1); a length the HTTP/1.1 framing carried stays.
    /// </summary>
    protected override ParseStatus ParseOutgoingHead(in ReadOnlySequence<byte> buffer, out SequencePosition consumed, out OutgoingHead outgoing)
    {
        ResponseHead head = _responseHead;
        outgoing = default;
        ParseStatus status = ResponseHeadParser.TryParse(buffer, head, HeadLimits.UpstreamResponse, out consumed, out _, out _);
        if (status != ParseStatus.Complete)
        {
            return status;
        }

        int blockLength = AppendStatus(BeginBlock(), head.StatusCode);
        foreach (ref readonly HeaderField field in head.Headers)
        {
            ReadOnlySpan<byte> name = head.NameOf(field);
            if (!IsConnectionSpecific(name))
            {
                blockLength = AppendField(blockLength, name, head.ValueOf(field));
            }
        }

        outgoing = new OutgoingHead(head.GetBodyFraming(Pipeline.Exchange.Request.Method), head.ContentLength, head.StatusCode < 200, blockLength);
        return status;
    }
}
