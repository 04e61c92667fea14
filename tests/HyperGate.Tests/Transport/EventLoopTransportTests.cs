using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using HyperGate.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace HyperGate.Tests.Transport;

/// <summary>The event-loop transport against plain platform sockets on 127.0.0.1.</summary>
public sealed class EventLoopTransportTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly EventLoopTransport _transport = EventLoopTransport.Shared
        ?? throw new InvalidOperationException("the event-loop transport runs on Linux x64 and arm64");
    private readonly TcpListener _peer = new(IPAddress.Loopback, 0);

    public EventLoopTransportTests() => _peer.Start();

    public void Dispose() => _peer.Stop();

    [Fact]
    public async Task Connect_ToAPortNobodyListensOn_FailsWithConnectionRefused()
    {
        using var unused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        unused.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        SocketException e = await Assert.ThrowsAsync<SocketException>(async () =>
            await _transport.ConnectAsync(unused.LocalEndPoint!, CancellationToken.None));

        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
    }

    [Fact]
    public async Task Features_AnswerTheConnectionsOwn_KeepWhatIsSet_AndLetASetFeatureReplaceOrHideAnOwnOne()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        IFeatureCollection features = connection.Features;
        int revision = features.Revision;

        Assert.Same(connection, features.Get<IConnectionTransportFeature>());
        Assert.Same(connection, features[typeof(IConnectionEndPointFeature)]);
        Assert.Null(features.Get<ITlsHandshakeFeature>());

        var heartbeat = new Heartbeat();
        features.Set<IConnectionHeartbeatFeature>(heartbeat);
        var items = new ItemsFeature();
        features.Set<IConnectionItemsFeature>(items);
        features.Set<IConnectionIdFeature>(null);

        Assert.Same(heartbeat, features.Get<IConnectionHeartbeatFeature>());
        Assert.Same(items, features.Get<IConnectionItemsFeature>());
        Assert.Null(features.Get<IConnectionIdFeature>());
        Assert.Equal(revision + 3, features.Revision);
        Dictionary<Type, object> listed = features.ToDictionary(pair => pair.Key, pair => pair.Value);
        Assert.Same(heartbeat, listed[typeof(IConnectionHeartbeatFeature)]);
        Assert.Same(items, listed[typeof(IConnectionItemsFeature)]);
        Assert.Same(connection, listed[typeof(IMemoryPoolFeature)]);
        Assert.False(listed.ContainsKey(typeof(IConnectionIdFeature)));

        // More than the first few set features: the store grows.
        Type[] more = [typeof(byte), typeof(short), typeof(int), typeof(long), typeof(float), typeof(double), typeof(char), typeof(string)];
        for (int i = 0; i < more.Length; i++)
        {
            features[more[i]] = i;
        }

        Assert.Equal(3, features[typeof(long)]);
        Assert.Equal(7, features[typeof(string)]);
        Assert.Same(heartbeat, features.Get<IConnectionHeartbeatFeature>());
        await connection.DisposeAsync();
        peer.Dispose();
    }

    private sealed class Heartbeat : IConnectionHeartbeatFeature
    {
        public void OnHeartbeat(Action<object> action, object state)
        {
        }
    }

    private sealed class ItemsFeature : IConnectionItemsFeature
    {
        public IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    }

    [Fact]
    public async Task DataFollowedAtOnceByTheClose_IsReadWhole_ThenTheEnd()
    {
        // The bytes and the FIN arrive before the loop looks: one readiness edge carries both.
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        peer.Send("hello"u8);
        peer.Shutdown(SocketShutdown.Send);

        byte[] received = await ReadToEndAsync(connection.Transport.Input);

        Assert.Equal("hello"u8.ToArray(), received);
        await connection.DisposeAsync();
        peer.Dispose();
    }

    [Fact]
    public async Task LargePayloads_CrossBothWays_Intact_WhileThePeerReadsSlowlyFirst()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        byte[] payload = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);

        // 8 MiB is far more than the socket buffers hold, so sending waits for the loop's writable edges.
        Task sending = WriteAllAsync(connection.Transport.Output, payload);
        using var peerStream = new NetworkStream(peer, ownsSocket: true);
        byte[] echoedByPeer = new byte[payload.Length];
        await peerStream.ReadExactlyAsync(echoedByPeer).AsTask().WaitAsync(Patience);
        await sending.WaitAsync(Patience);
        Assert.Equal(payload, echoedByPeer);

        // The other way, more than the 1 MiB the input pipe holds ahead of its reader.
        Task peerSending = peerStream.WriteAsync(payload).AsTask().ContinueWith(_ => peer.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
        byte[] received = await ReadToEndAsync(connection.Transport.Input);
        await peerSending.WaitAsync(Patience);
        Assert.Equal(payload, received);
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task ADirectSend_TheSocketCannotTakeWhole_KeepsTheRest_SoTheCallerMayReuseItsBuffer()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        var output = (IDirectSendWriter)connection.Transport.Output;
        connection.Transport.Output.Write("head:"u8);
        byte[] payload = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);
        byte[] expected = [.. "head:"u8, .. payload];

        // The peer reads nothing yet: the socket takes a part, the rest must be kept by the writer.
        ValueTask<FlushResult> sending = output.SendAndFlushAsync(payload);
        Assert.False(sending.IsCompleted);
        Array.Clear(payload);

        using var peerStream = new NetworkStream(peer, ownsSocket: true);
        byte[] received = new byte[expected.Length];
        await peerStream.ReadExactlyAsync(received).AsTask().WaitAsync(Patience);
        FlushResult flushed = await sending.AsTask().WaitAsync(Patience);
        Assert.False(flushed.IsCompleted);
        Assert.Equal(expected, received);
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task APeersReset_EndsTheInput_AfterWhatCameBefore_WithoutAnException()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        PipeReader input = connection.Transport.Input;
        await peer.SendAsync("last words"u8.ToArray());
        ReadResult words = await input.ReadAtLeastAsync("last words".Length).AsTask().WaitAsync(Patience);
        input.AdvanceTo(words.Buffer.End);

        // A zero linger makes the close a reset.
        peer.LingerState = new LingerOption(true, 0);
        peer.Close();
        ReadResult end = await input.ReadAsync().AsTask().WaitAsync(Patience);

        Assert.True(end.IsCompleted);
        Assert.True(end.Buffer.IsEmpty);
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task Abort_CompletesAPendingRead_WithTheReason()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        ValueTask<ReadResult> pending = connection.Transport.Input.ReadAsync();
        Assert.False(pending.IsCompleted);

        connection.Abort(new ConnectionAbortedException("test abort"));

        ConnectionAbortedException e = await Assert.ThrowsAsync<ConnectionAbortedException>(async () => await pending.AsTask().WaitAsync(Patience));
        Assert.Equal("test abort", e.Message);
        await connection.DisposeAsync();
        peer.Dispose();
    }

    [Fact]
    public async Task AbortWithoutAReason_StillFailsAPendingRead_AsAborted()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        ValueTask<ReadResult> pending = connection.Transport.Input.ReadAsync();

        connection.Abort();

        await Assert.ThrowsAsync<ConnectionAbortedException>(async () => await pending.AsTask().WaitAsync(Patience));
        await connection.DisposeAsync();
        peer.Dispose();
    }

    [Fact]
    public async Task ConnectionClosed_FiresOnDispose_WhetherAskedForBeforeOrAfter()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        CancellationToken before = connection.ConnectionClosed;
        Assert.False(before.IsCancellationRequested);

        await connection.DisposeAsync();

        Assert.True(before.IsCancellationRequested);
        Assert.True(connection.ConnectionClosed.IsCancellationRequested);
        peer.Dispose();
    }

    [Fact]
    public async Task FlushesOnTheLoopsThread_AreSentAtTheEndOfItsTurn_WithWhatWasWrittenAfterThem()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        PipeWriter output = connection.Transport.Output;

        (bool FlushesCompleted, int AtThePeerDuringTheTurn) turn = await OnTheLoopAsync(connection, () =>
        {
            output.Write("first,"u8);
            ValueTask<FlushResult> first = output.FlushAsync();
            output.Write("second"u8);
            ValueTask<FlushResult> second = output.FlushAsync();

            // Over loopback a send is in the peer's queue as the call returns: nothing was sent yet.
            return (first.IsCompletedSuccessfully && second.IsCompletedSuccessfully, peer.Available);
        });

        Assert.True(turn.FlushesCompleted);
        Assert.Equal(0, turn.AtThePeerDuringTheTurn);
        Assert.Equal("first,second", await ReceiveAsync(peer, "first,second".Length));
        await connection.DisposeAsync();
        peer.Dispose();
    }

    [Fact]
    public async Task AWriterOnAnotherThread_SendsADeferredFlushWithItsOwn_InOrder_AndOnce()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        PipeWriter output = connection.Transport.Output;

        int atThePeerDuringTheTurn = await OnTheLoopAsync(connection, () =>
        {
            output.Write("a"u8);
            _ = output.FlushAsync();

            // The loop's turn is not over: another thread writes and sends, and must send the deferred byte first.
            Task.Run(async () =>
            {
                output.Write("b"u8);
                await output.FlushAsync();
            }).Wait(Patience);
            return peer.Available;
        });

        Assert.Equal(2, atThePeerDuringTheTurn);
        Assert.Equal("ab", await ReceiveAsync(peer, 2));

        // Nothing was sent twice: the next bytes at the peer are the next ones written.
        await output.WriteAsync("c"u8.ToArray());
        Assert.Equal("c", await ReceiveAsync(peer, 1));
        await connection.DisposeAsync();
        peer.Dispose();
    }

    [Fact]
    public async Task ADeferredFlush_TheSocketCannotTakeWhole_SendsTheRestAtTheWritableEdge_WithoutAnotherFlush()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        PipeWriter output = connection.Transport.Output;
        byte[] payload = RandomNumberGenerator.GetBytes(8 * 1024 * 1024);

        // The peer reads nothing until the turn is over, so the end of the turn finds the socket full; the flush
        // itself completed at once (it only asked for the send).
        bool flushCompleted = await OnTheLoopAsync(connection, () =>
        {
            output.Write(payload);
            return output.FlushAsync().IsCompletedSuccessfully;
        });
        Assert.True(flushCompleted);

        using var peerStream = new NetworkStream(peer, ownsSocket: true);
        byte[] received = new byte[payload.Length];
        await peerStream.ReadExactlyAsync(received).AsTask().WaitAsync(Patience);
        Assert.Equal(payload, received);
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task ADisposeInTheSameTurn_SendsTheDeferredFlush_BeforeTheEnd()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        PipeWriter output = connection.Transport.Output;

        ValueTask disposal = await OnTheLoopAsync(connection, () =>
        {
            output.Write("last"u8);
            _ = output.FlushAsync();
            return connection.DisposeAsync();
        });
        await disposal;

        Assert.Equal("last"u8.ToArray(), await PeerReadsToEndAsync(peer));
    }

    [Fact]
    public async Task Dispose_ClosesTheSocket_SoThePeerSeesTheEnd()
    {
        (ConnectionContext connection, Socket peer) = await ConnectAsync();
        await connection.Transport.Output.WriteAsync("bye"u8.ToArray());

        await connection.DisposeAsync();

        Assert.Equal("bye"u8.ToArray(), await PeerReadsToEndAsync(peer));
    }

    [Fact]
    public async Task AListener_AcceptsConnections_ThatEchoThroughThePipes()
    {
        IConnectionListener listener = await _transport.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint);
        ConnectionContext accepted = (await listener.AcceptAsync().AsTask().WaitAsync(Patience))!;

        await client.SendAsync("ping"u8.ToArray());
        ReadResult result = await accepted.Transport.Input.ReadAtLeastAsync(4).AsTask().WaitAsync(Patience);
        await accepted.Transport.Output.WriteAsync(result.Buffer.ToArray());
        accepted.Transport.Input.AdvanceTo(result.Buffer.End);
        byte[] echoed = new byte[4];
        await client.ReceiveAsync(echoed).WaitAsync(Patience);

        Assert.Equal("ping"u8.ToArray(), echoed);
        Assert.Equal(client.LocalEndPoint, accepted.RemoteEndPoint);
        await accepted.DisposeAsync();
        await listener.UnbindAsync();
        Assert.Null(await listener.AcceptAsync().AsTask().WaitAsync(Patience));
        await listener.DisposeAsync();
    }

    private async Task<(ConnectionContext Connection, Socket Peer)> ConnectAsync()
    {
        ConnectionContext connection = await _transport.ConnectAsync(_peer.LocalEndpoint, CancellationToken.None);
        Socket peer = await _peer.AcceptSocketAsync();
        return (connection, peer);
    }

    private static Task<T> OnTheLoopAsync<T>(ConnectionContext connection, Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        ((EventLoopConnection)connection).Loop.Schedule(_ =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }, null);
        return done.Task.WaitAsync(Patience);
    }

    /// <summary>Everything the peer receives until the connection's end (the peer's socket is closed after).</summary>
    private static async Task<byte[]> PeerReadsToEndAsync(Socket peer)
    {
        using var peerStream = new NetworkStream(peer, ownsSocket: true);
        var all = new MemoryStream();
        await peerStream.CopyToAsync(all).WaitAsync(Patience);
        return all.ToArray();
    }

    private static async Task<string> ReceiveAsync(Socket peer, int length)
    {
        byte[] buffer = new byte[length];
        for (int received = 0; received < length;)
        {
            received += await peer.ReceiveAsync(buffer.AsMemory(received)).AsTask().WaitAsync(Patience);
        }

        return System.Text.Encoding.ASCII.GetString(buffer);
    }

    private static async Task WriteAllAsync(PipeWriter output, byte[] payload)
    {
        for (int offset = 0; offset < payload.Length; offset += 100_000)
        {
            await output.WriteAsync(payload.AsMemory(offset, Math.Min(100_000, payload.Length - offset)));
        }
    }

    private static async Task<byte[]> ReadToEndAsync(PipeReader input)
    {
        var all = new MemoryStream();
        while (true)
        {
            ReadResult result = await input.ReadAsync().AsTask().WaitAsync(Patience);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return all.ToArray();
            }
        }
    }
}
