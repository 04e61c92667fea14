using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
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
        SocketAddress address = endPoint.Serialize();
        int fd = LinuxSockets.OpenStream(address.Family);
        return (EventLoop.Current ?? NextLoop()).Connection(fd, peerAddress: default).ConnectAsync(endPoint, address, cancellationToken);
    }

    private EventLoop NextLoop() => _loops[(uint)Interlocked.Increment(ref _next) % (uint)_loops.Length];

    /// <summary>
    /// Accepts on a non-blocking listening socket that a loop watches: as many connections as are waiting, then a wait
    /// for the loop's next readable edge. A connection costs its socket and nothing else: no platform socket, handle or
    /// endpoint objects (the peer's address stays bytes until asked for).
    /// </summary>
    private sealed class Listener : IConnectionListener, IValueTaskSource
    {
        private readonly Socket _listenSocket;
        private readonly int _fd;
        private readonly EventLoopTransport _transport;
        private readonly EventLoop _watcher;
        private readonly int _watch;
        private EdgeSignal _readable = new(runContinuationsAsynchronously: true);
        private volatile bool _unbound;

        public Listener(Socket listenSocket, EventLoopTransport transport)
        {
            _listenSocket = listenSocket;
            _fd = (int)listenSocket.SafeHandle.DangerousGetHandle();
            _transport = transport;
            EndPoint = listenSocket.LocalEndPoint!;
            LinuxSockets.SetNonBlocking(_fd);
            _watcher = transport.NextLoop();
            _watch = _watcher.WatchListener(_fd, Signal);
        }

        public EndPoint EndPoint { get; }

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            using CancellationTokenRegistration cancel = cancellationToken.UnsafeRegister(static state => ((Listener)state!).Signal(), this);
            while (!_unbound && !cancellationToken.IsCancellationRequested)
            {
                EventLoopConnection? connection = TryAccept();
                if (connection is not null)
                {
                    return connection;
                }

                // Connections waiting, unbound, or cancelled: each wakes the wait.
                await _readable.WaitAsync(this);
            }

            return null;
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            Close();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            Close();
            return ValueTask.CompletedTask;
        }

        /// <summary>A connection when one is waiting; null when none is. Other errors (out of file descriptors) throw, for the accept loop to back off.</summary>
        private unsafe EventLoopConnection? TryAccept()
        {
            byte* peer = stackalloc byte[LinuxSockets.MaxAddressLength];
            while (true)
            {
                int fd = Accept(peer, out int error);
                if (fd >= 0)
                {
                    EventLoopConnection connection = _transport.NextLoop().Connection(fd, new ReadOnlySpan<byte>(peer, LinuxSockets.MaxAddressLength));
                    connection.Start();
                    return connection;
                }

                // A client that gave up in the backlog (reset before it was accepted), or a signal: try the next one.
                if (error is LinuxSockets.ECONNABORTED or LinuxSockets.EINTR)
                {
                    continue;
                }

                if (error == LinuxSockets.EAGAIN || _unbound)
                {
                    return null;
                }

                throw new SocketException((int)LinuxSockets.ToSocketError(error));
            }
        }

        /// <summary>accept4 with the listening socket held open: an unbind on another thread closes it only after.</summary>
        private unsafe int Accept(byte* peer, out int error)
        {
            bool held = false;
            try
            {
                _listenSocket.SafeHandle.DangerousAddRef(ref held);
                return LinuxSockets.Accept(_fd, peer, out error);
            }
            catch (ObjectDisposedException)
            {
                error = LinuxSockets.EAGAIN;
                return -1;
            }
            finally
            {
                if (held)
                {
                    _listenSocket.SafeHandle.DangerousRelease();
                }
            }
        }

        private void Signal() => _readable.Signal();

        private void Close()
        {
            if (_unbound)
            {
                return;
            }

            _unbound = true;
            _watcher.UnwatchListener(_fd, _watch);
            Signal();
            _listenSocket.Dispose();
        }

        void IValueTaskSource.GetResult(short token) => _readable.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _readable.GetStatus(token);

        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _readable.OnCompleted(continuation, state, token, flags);
    }
}
