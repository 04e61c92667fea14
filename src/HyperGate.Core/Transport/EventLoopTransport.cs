using System.Net;
using System.Net.Sockets;
using HyperGate.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace HyperGate.Transport;

/// <summary>
/// The data plane's sockets on Linux: one <see cref="EventLoop"/> per core, shared by every listener and upstream pool
/// in the process (like the platform's own socket engine). Accepted connections are dealt to the loops in turn; an
/// upstream connection opened from a loop's thread stays on that loop, so the exchange it carries does not change
/// threads.
/// </summary>
public sealed class EventLoopTransport : IConnectionListenerFactory, IUpstreamConnector
{
    private static readonly Lazy<EventLoopTransport?> s_shared =
        new(() => LinuxSockets.IsSupported ? new EventLoopTransport(Environment.ProcessorCount) : null);

    private readonly EventLoop[] _loops;
    private readonly RetainingBlockPool _pool = new();
    private int _next;

    private EventLoopTransport(int loops) =>
        _loops = [.. Enumerable.Range(0, loops).Select(i => new EventLoop(i, _pool))];

    /// <summary>The process's transport; null where the event loop is not supported (then Kestrel's sockets serve).</summary>
    public static EventLoopTransport? Shared => s_shared.Value;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        Socket listenSocket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
        listenSocket.Listen(512);
        return ValueTask.FromResult<IConnectionListener>(new Listener(listenSocket, this));
    }

    public ValueTask<ConnectionContext> ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = endPoint is IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        return (EventLoop.Current ?? NextLoop()).Connection(socket).ConnectAsync(endPoint, cancellationToken);
    }

    private EventLoop NextLoop() => _loops[(uint)Interlocked.Increment(ref _next) % (uint)_loops.Length];

    /// <summary>Accepts with the platform's socket (a connection's first moment is not the hot path), then hands the socket to a loop.</summary>
    private sealed class Listener(Socket listenSocket, EventLoopTransport transport) : IConnectionListener
    {
        public EndPoint EndPoint { get; } = listenSocket.LocalEndPoint!;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                Socket socket;
                try
                {
                    socket = await listenSocket.AcceptAsync(cancellationToken);
                }
                catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException
                    || e is SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted })
                {
                    return null;
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
                {
                    // The client gave up before it was accepted (a reset in the backlog): accept the next one. Other
                    // errors (out of file descriptors) go to the accept loop, which backs off.
                    continue;
                }

                EventLoopConnection connection = transport.NextLoop().Connection(socket);
                connection.Start();
                return connection;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            listenSocket.Dispose();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            listenSocket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
