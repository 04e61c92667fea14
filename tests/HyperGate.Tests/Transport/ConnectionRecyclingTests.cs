using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HyperGate.Buffers;
using HyperGate.Transport;
using Microsoft.AspNetCore.Connections.Features;

namespace HyperGate.Tests.Transport;

/// <summary>A closed connection's object serving the loop's next socket, only when its owner said nothing uses it.</summary>
public sealed class ConnectionRecyclingTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    // A loop of this class's own: the shared transport's recycled objects are taken by whatever test accepts next.
    private static readonly EventLoop s_loop = new(index: 99, new RetainingBlockPool());

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public ConnectionRecyclingTests() => _listener.Start();

    public void Dispose() => _listener.Stop();

    [Fact]
    public async Task AConnectionItsOwnerVouchedFor_ServesTheNextSocket_AsANewConnection()
    {
        (EventLoopConnection first, Socket firstClient) = await AcceptAsync();
        using (firstClient)
        {
            await ExchangeAsync(first, firstClient, "one");
            string firstId = first.ConnectionId;
            CancellationToken firstClosed = first.ConnectionClosed;

            first.RecycleOnDispose();
            await first.DisposeAsync();

            Assert.True(firstClosed.IsCancellationRequested);
            Assert.Equal(0, await firstClient.ReceiveAsync(new byte[16].AsMemory()).AsTask().WaitAsync(Patience));

            (EventLoopConnection second, Socket secondClient) = await AcceptAsync();
            using (secondClient)
            {
                Assert.Same(first, second);
                Assert.NotEqual(firstId, second.ConnectionId);
                Assert.False(second.ConnectionClosed.IsCancellationRequested);
                Assert.Equal(secondClient.LocalEndPoint, second.RemoteEndPoint);

                // Its pipe starts empty and open, and its output writes to the new socket.
                await ExchangeAsync(second, secondClient, "two");
                await second.DisposeAsync();
                Assert.Equal(0, await secondClient.ReceiveAsync(new byte[16].AsMemory()).AsTask().WaitAsync(Patience));
            }
        }
    }

    [Fact]
    public async Task AConnectionClosedWithoutWaiting_IsRecycledAsItCloses()
    {
        (EventLoopConnection first, Socket firstClient) = await AcceptAsync();
        using (firstClient)
        {
            await ExchangeAsync(first, firstClient, "one");

            // The upstream pool's way: nobody waits for the close. Work posted to the loop after it runs after it.
            first.CloseAndRecycle();
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            s_loop.Schedule(static done => ((TaskCompletionSource)done!).SetResult(), closed);
            await closed.Task.WaitAsync(Patience);
            Assert.Equal(0, await firstClient.ReceiveAsync(new byte[16].AsMemory()).AsTask().WaitAsync(Patience));
        }

        (EventLoopConnection second, Socket secondClient) = await AcceptAsync();
        using (secondClient)
        {
            Assert.Same(first, second);
            await ExchangeAsync(second, secondClient, "two");
            await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task AConnectionDisposedWithoutItsOwnersWord_IsNotReused()
    {
        (EventLoopConnection first, Socket firstClient) = await AcceptAsync();
        using (firstClient)
        {
            await first.DisposeAsync();
        }

        (EventLoopConnection second, Socket secondClient) = await AcceptAsync();
        using (secondClient)
        {
            Assert.NotSame(first, second);
            await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task AConnectionWithAFeatureSetOnIt_IsNotReused_EvenWhenVouchedFor()
    {
        (EventLoopConnection first, Socket firstClient) = await AcceptAsync();
        using (firstClient)
        {
            first.Features.Set<IConnectionHeartbeatFeature>(null);
            first.RecycleOnDispose();
            await first.DisposeAsync();
        }

        (EventLoopConnection second, Socket secondClient) = await AcceptAsync();
        using (secondClient)
        {
            Assert.NotSame(first, second);
            await second.DisposeAsync();
        }
    }

    private async Task<(EventLoopConnection Connection, Socket Client)> AcceptAsync()
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(_listener.LocalEndpoint).WaitAsync(Patience);
        Socket accepted = await _listener.AcceptSocketAsync().WaitAsync(Patience);

        // The connection owns the socket from here: the platform's object lets go of it.
        int fd = (int)accepted.SafeHandle.DangerousGetHandle();
        accepted.SafeHandle.SetHandleAsInvalid();
        LinuxSockets.SetNonBlocking(fd);
        EventLoopConnection connection = s_loop.Connection(fd, peerAddress: default);
        connection.Start();
        return (connection, client);
    }

    /// <summary>The client sends <paramref name="text"/>; the connection reads it and answers it back.</summary>
    private static async Task ExchangeAsync(EventLoopConnection connection, Socket client, string text)
    {
        await client.SendAsync(Encoding.ASCII.GetBytes(text));
        PipeReader input = connection.Transport.Input;
        ReadResult read = await input.ReadAsync().AsTask().WaitAsync(Patience);
        Assert.False(read.IsCompleted || read.IsCanceled);
        Assert.Equal(text, Encoding.ASCII.GetString(read.Buffer));
        input.AdvanceTo(read.Buffer.End);

        await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(text));
        byte[] answer = new byte[16];
        int received = await client.ReceiveAsync(answer.AsMemory()).AsTask().WaitAsync(Patience);
        Assert.Equal(text, Encoding.ASCII.GetString(answer, 0, received));
    }
}
