using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;
using HyperGate.Http1;
using HyperGate.Upstreams;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Forwarding;

/// <summary>
/// Sends copies of requests to a route's <c>mirror</c> upstream. The copy's head is rebuilt on the request's
/// thread and queued; background workers send it and read the answer's head, then drop the connection (and the
/// answer's body). The primary request never waits: when the workers fall behind, copies are dropped and
/// counted. A request with a body is mirrored when the route buffered it (<c>body_buffer</c>); a streamed body
/// is not kept for a second reader.
/// </summary>
public sealed class RequestMirror : IAsyncDisposable
{
    private const int Workers = 2;

    private readonly Channel<(Destination Destination, byte[] Head)> _queue =
        Channel.CreateBounded<(Destination, byte[])>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropWrite });

    private readonly Lazy<Task[]> _workers;
    private long _sent;
    private long _dropped;
    private long _failed;

    /// <summary>The workers start with the first copy: most gateways mirror nothing.</summary>
    public RequestMirror() => _workers = new(() => [.. Enumerable.Range(0, Workers).Select(_ => Task.Run(RunAsync))]);

    public long Sent => Interlocked.Read(ref _sent);

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Queues a copy of the routed request (and its buffered body) for <paramref name="mirror"/>; returns at once.</summary>
    public void Enqueue(Exchange exchange, Upstream mirror)
    {
        if (exchange.BodyStreams || mirror.PickDestination(exchange) is not { } destination)
        {
            return;
        }

        var pipe = new Pipe();
        UpstreamRequestWriter.Write(pipe.Writer, exchange, destination, upgrade: false);
        pipe.Writer.Complete();
        pipe.Reader.TryRead(out ReadResult written);
        byte[] head = [.. written.Buffer.ToArray(), .. exchange.BufferedBody ?? []];
        pipe.Reader.Complete();
        _ = _workers.Value;
        destination.RequestStarted();
        if (!_queue.Writer.TryWrite((destination, head)))
        {
            destination.RequestEnded();
            Interlocked.Increment(ref _dropped);
        }
    }

    private async Task RunAsync()
    {
        await foreach ((Destination destination, byte[] head) in _queue.Reader.ReadAllAsync())
        {
            try
            {
                bool answered = await SendAsync(destination, head);
                Interlocked.Increment(ref answered ? ref _sent : ref _failed);
            }
            finally
            {
                destination.RequestEnded();
            }
        }
    }

    /// <summary>Sends one copy and waits for the head of its answer (within the upstream's response timeout).</summary>
    private static async Task<bool> SendAsync(Destination destination, byte[] head)
    {
        UpstreamConnection connection;
        try
        {
            connection = destination.Pool.TryRentIdle(out UpstreamConnection? idle) ? idle : await destination.Pool.ConnectAsync(CancellationToken.None);
        }
        catch (UpstreamException)
        {
            return false;
        }

        try
        {
            await connection.Output.WriteAsync(head);
            connection.ArmTimeout(destination.Pool.Settings.ResponseTimeout);
            while (true)
            {
                ReadResult read = await connection.Input.ReadAsync();
                ParseStatus status = ResponseHeadParser.TryParse(read.Buffer, connection.ResponseHead, HeadLimits.UpstreamResponse, out SequencePosition consumed, out SequencePosition examined, out _);
                connection.Input.AdvanceTo(consumed, examined);
                if (status == ParseStatus.Complete && connection.ResponseHead.StatusCode >= 200)
                {
                    return true;
                }

                if (status == ParseStatus.Rejected || read.IsCompleted || read.IsCanceled)
                {
                    return false;
                }
            }
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
        {
            return false;
        }
        finally
        {
            connection.DisarmTimeout();

            // The answer's body is not wanted: the connection goes rather than being drained.
            connection.Pool.Return(connection, reusable: false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_workers.IsValueCreated)
        {
            await Task.WhenAll(_workers.Value);
        }
    }
}
