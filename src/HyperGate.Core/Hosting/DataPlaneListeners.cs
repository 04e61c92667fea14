using System.Net;
using HyperGate.Configuration;
using HyperGate.Connection;
using HyperGate.Tls;
using HyperGate.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace HyperGate.Hosting;

/// <summary>
/// The data plane's listen sockets, on the connection transport (the event loops on Linux, Kestrel's socket transport
/// elsewhere), each with its own accept loop, so a reload opens or closes one address without touching the
/// connections of the others. <c>server.max_connections</c> is counted here, across every address. Accepting here
/// rather than through a Kestrel server saves each connection Kestrel's bookkeeping (about a kilobyte in ten objects,
/// and a hop to the thread pool); Kestrel's HTTP stack was never in the request path.
/// </summary>
public sealed class DataPlaneListeners : IServer
{
    private readonly GatewayRuntime _runtime;
    private readonly IConnectionListenerFactory _transport;
    private readonly ILogger _logger;
    private readonly GatewayConnectionHandler _handler;
    private readonly List<Task> _closing = [];
    private volatile Listener[] _listeners = [];
    private int _open;

    public DataPlaneListeners(GatewayRuntime runtime, IConnectionListenerFactory transport, ILoggerFactory loggers)
    {
        _runtime = runtime;
        _transport = transport;
        _logger = loggers.CreateLogger("HyperGate");
        _handler = new GatewayConnectionHandler(runtime, _logger);
    }

    public IFeatureCollection Features { get; } = new FeatureCollection();

    /// <summary>Serves every client connection, on every address.</summary>
    internal GatewayConnectionHandler Handler => _handler;

    /// <summary>Client connections open now, across every address.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Raised as a client connection ends, with the number still open.</summary>
    public event Action<int>? ConnectionEnded;

    /// <summary>The bound addresses, in config order (with the real port where the config asked for port 0).</summary>
    public IReadOnlyList<IPEndPoint> Endpoints => [.. _listeners.Select(l => l.BoundEndPoint)];

    /// <summary>The bound addresses as URL bases (http:// or https://), in config order.</summary>
    public IReadOnlyList<string> Urls => [.. _listeners.Select(l => l.Address.Url(l.BoundEndPoint))];

    /// <summary>Binds every configured address; called once by the host.</summary>
    public async Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        var listeners = new List<Listener>();
        var errors = new List<ConfigError>();
        foreach (ListenAddress address in _runtime.Snapshot.Config.Server.Listen)
        {
            try
            {
                listeners.Add(await BindAsync(address, cancellationToken));
            }
            catch (Exception e) when (IsBindFailure(e))
            {
                errors.Add(BindError(address, e, "free the address (another process listens there) or choose another port"));
            }
        }

        if (errors.Count > 0)
        {
            await Task.WhenAll(listeners.Select(l => l.StopAsync(CancellationToken.None)));
            listeners.ForEach(l => l.Dispose());
            throw new ConfigException(errors);
        }

        _listeners = [.. listeners];
    }

    private static bool IsBindFailure(Exception e) => e is IOException or System.Net.Sockets.SocketException or AddressInUseException;

    /// <summary>A listen address that cannot be bound, at its config line, with the cause in words (not a trace).</summary>
    private static ConfigError BindError(ListenAddress address, Exception e, string hint)
    {
        string cause = e is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AccessDenied }
            ? "permission denied (ports below 1024 need privileges)"
            : e is AddressInUseException or System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse }
                ? "the address is already in use"
                : e.Message;
        return new ConfigError(address.Location, $"server.{(address.Tls ? "listen_tls" : "listen")}: cannot listen on {address.EndPoint}: {cause}", hint);
    }

    /// <summary>
    /// Makes the listeners match <paramref name="addresses"/>: new addresses are bound (all or none: a bind
    /// failure closes the ones just opened and refuses the reload), then listeners whose address left the config
    /// stop accepting and their connections drain in the background within <paramref name="drainTimeout"/>.
    /// </summary>
    internal async Task ApplyAsync(IReadOnlyList<ListenAddress> addresses, TimeSpan drainTimeout)
    {
        Listener[] current = _listeners;
        var next = new List<Listener>();
        var opened = new List<Listener>();
        var errors = new List<ConfigError>();
        foreach (ListenAddress address in addresses)
        {
            Listener? kept = current.FirstOrDefault(l => l.Address.EndPoint.Equals(address.EndPoint) && l.Address.Tls == address.Tls && !next.Contains(l));
            if (kept is not null)
            {
                next.Add(kept);
                continue;
            }

            try
            {
                Listener listener = await BindAsync(address, CancellationToken.None);
                opened.Add(listener);
                next.Add(listener);
            }
            catch (Exception e) when (IsBindFailure(e))
            {
                errors.Add(BindError(address, e, "free the address or choose another port; the running listeners are unchanged"));
            }
        }

        if (errors.Count > 0)
        {
            await Task.WhenAll(opened.Select(l => l.StopAsync(CancellationToken.None)));
            opened.ForEach(l => l.Dispose());
            throw new ConfigException(errors);
        }

        _listeners = [.. next];
        foreach (Listener listener in opened)
        {
            _logger.LogInformation("listening on {Url} (data plane, added by reload)", listener.Address.Url(listener.BoundEndPoint));
        }

        foreach (Listener removed in current.Where(l => !next.Contains(l)))
        {
            _logger.LogInformation("stopped listening on {Url} (removed by reload); its connections drain", removed.Address.Url(removed.BoundEndPoint));
            lock (_closing)
            {
                _closing.Add(CloseAsync(removed, drainTimeout));
            }
        }
    }

    /// <summary>Stops accepting everywhere; connections drain until <paramref name="cancellationToken"/> (the drain timeout) fires.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Task[] closing;
        lock (_closing)
        {
            closing = [.. _closing];
        }

        await Task.WhenAll(_listeners.Select(l => l.StopAsync(cancellationToken)).Concat(closing));
    }

    public void Dispose()
    {
        foreach (Listener listener in _listeners)
        {
            listener.Dispose();
        }
    }

    private async Task<Listener> BindAsync(ListenAddress address, CancellationToken cancellationToken)
    {
        IConnectionListener socket = await _transport.BindAsync(address.EndPoint, cancellationToken);
        var listener = new Listener(this, address, socket);
        listener.AcceptLoop = AcceptLoopAsync(listener);
        return listener;
    }

    /// <summary>
    /// Accepts until the listener is unbound. When accepting fails (out of file descriptors or kernel memory, which
    /// only closing connections cures), it waits before trying again, doubling the wait up to a second, as nginx and
    /// HAProxy do: retrying at once would take a core and starve the connections whose closing would cure it.
    /// </summary>
    private async Task AcceptLoopAsync(Listener listener)
    {
        int failures = 0;
        while (true)
        {
            ConnectionContext? connection;
            try
            {
                connection = await listener.Socket.AcceptAsync();
            }
            catch (Exception e)
            {
                if (failures++ == 0)
                {
                    _logger.LogError(e, "accepting on {Endpoint} failed; retrying with back-off", listener.BoundEndPoint);
                }

                try
                {
                    await Task.Delay(AcceptRetryDelay(failures), _runtime.TimeProvider, listener.Unbinding);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            if (connection is null)
            {
                return;
            }

            if (failures > 0)
            {
                _logger.LogInformation("accepting on {Endpoint} again after {Failures} failed attempts", listener.BoundEndPoint, failures);
                failures = 0;
            }

            // Runs until the connection's first wait, then the loop accepts the next one.
            Serve(listener, connection);
        }
    }

    /// <summary>10 ms after the first failure, doubling to at most a second.</summary>
    private static TimeSpan AcceptRetryDelay(int failures) => TimeSpan.FromMilliseconds(Math.Min(10 << Math.Min(failures - 1, 7), 1000));

    /// <summary>
    /// Hands the connection to the handler, which serves it and closes it. Past the cap a connection is closed as it
    /// arrives, before any byte is read. The place it takes is given back before it is closed: its close may wait for
    /// the client, and a connection the client sees closed must no longer count.
    /// </summary>
    private void Serve(Listener listener, ConnectionContext connection)
    {
        listener.ConnectionStarted();
        if (Interlocked.Increment(ref _open) <= _runtime.Snapshot.Config.Server.MaxConnections)
        {
            if (listener.Address.Tls)
            {
                // A handshake holds its place under max_connections like any connection.
                _ = ServeTlsAsync(listener, connection);
            }
            else
            {
                _handler.Serve(connection, listener);
            }

            return;
        }

        _ = RefuseAsync(listener, connection);
    }

    /// <summary>Handshakes with the certificates of the config current now, then serves the plaintext like any connection.</summary>
    private async Task ServeTlsAsync(Listener listener, ConnectionContext connection)
    {
        TlsConnection? tls = null;
        TlsHandshakeResult result;
        try
        {
            (tls, result) = await TlsHandshake.AcceptAsync(connection, _runtime.Snapshot.Config.Tls, listener.Address.EndPoint, _runtime.TimeProvider);
        }
        catch (Exception e)
        {
            // Whatever a handshake throws ends its connection only; it is logged, counted and closed like any failure.
            _logger.LogError(e, "TLS handshake with {Peer} failed unexpectedly", connection.RemoteEndPoint);
            result = TlsHandshakeResult.Failed;
        }

        _runtime.Telemetry.Metrics.CountTlsHandshake(result);
        if (tls is not null)
        {
            _handler.Serve(tls, listener);
            return;
        }

        listener.ConnectionEnded();
        try
        {
            await connection.DisposeAsync();
        }
        catch (Exception e)
        {
            _logger.LogError(e, "closing a connection from {Peer} failed", connection.RemoteEndPoint);
        }

        listener.ConnectionClosed();
    }

    private async Task RefuseAsync(Listener listener, ConnectionContext connection)
    {
        listener.ConnectionEnded();

        // Nothing read or wrote the connection: its transport may reuse it.
        (connection as IRecyclableConnection)?.RecycleOnDispose();
        try
        {
            await connection.DisposeAsync();
        }
        catch (Exception e)
        {
            _logger.LogError(e, "closing a connection from {Peer} failed", connection.RemoteEndPoint);
        }

        listener.ConnectionClosed();
    }

    /// <summary>A connection left the gateway's count (<see cref="IConnectionOwner.ConnectionEnded"/> of any listener).</summary>
    private void ConnectionLeft()
    {
        // Counted apart from the event: a null-conditional call would skip its argument when no one listens.
        int open = Interlocked.Decrement(ref _open);
        ConnectionEnded?.Invoke(open);
    }

    private static async Task CloseAsync(Listener listener, TimeSpan drainTimeout)
    {
        using var drain = new CancellationTokenSource(drainTimeout);
        await listener.StopAsync(drain.Token);
        listener.Dispose();
    }

    /// <summary>
    /// A bound address and the connections it accepted. Stopping it closes the socket first, then asks its connections
    /// to close (idle ones at once, busy ones after their response), and aborts the ones still open at the drain timeout.
    /// </summary>
    private sealed class Listener(DataPlaneListeners owner, ListenAddress address, IConnectionListener socket) : IConnectionOwner, IDisposable
    {
        private static readonly TimeSpan AbortGrace = TimeSpan.FromSeconds(1);
        private readonly CancellationTokenSource _unbinding = new();
        private readonly CancellationTokenSource _closing = new();
        private readonly CancellationTokenSource _aborting = new();
        private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _open;
        private int _stopping;

        public ListenAddress Address { get; } = address;

        public IConnectionListener Socket { get; } = socket;

        public IPEndPoint BoundEndPoint { get; } = (IPEndPoint)socket.EndPoint;

        public Task AcceptLoop { get; set; } = Task.CompletedTask;

        /// <summary>Cancelled when the address stops accepting.</summary>
        public CancellationToken Unbinding => _unbinding.Token;

        /// <summary>Cancelled when the connections are asked to close.</summary>
        public CancellationToken CloseRequested => _closing.Token;

        /// <summary>Cancelled when the connections still open at the drain timeout are to be aborted.</summary>
        public CancellationToken AbortRequested => _aborting.Token;

        public void ConnectionStarted() => Interlocked.Increment(ref _open);

        public void ConnectionEnded() => owner.ConnectionLeft();

        public void ConnectionClosed()
        {
            // This and StopAsync each change one counter, then read the other's, with full fences between: one of
            // them sees the last connection gone.
            if (Interlocked.Decrement(ref _open) == 0 && Volatile.Read(ref _stopping) == 1)
            {
                _drained.TrySetResult();
            }
        }

        public async Task StopAsync(CancellationToken drainTimeout)
        {
            if (Interlocked.Exchange(ref _stopping, 1) == 0)
            {
                _unbinding.Cancel();
                await Socket.UnbindAsync();
                await AcceptLoop;
                _closing.Cancel();
                if (Volatile.Read(ref _open) == 0)
                {
                    _drained.TrySetResult();
                }
            }

            try
            {
                await _drained.Task.WaitAsync(drainTimeout);
            }
            catch (OperationCanceledException)
            {
                // An aborted connection ends at its next wait; one waiting on its upstream ends when that answers or
                // times out, and the stop does not wait for it.
                _aborting.Cancel();
                await Task.WhenAny(_drained.Task, Task.Delay(AbortGrace));
            }
        }

        public void Dispose()
        {
            Socket.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _unbinding.Dispose();
            _closing.Dispose();
            _aborting.Dispose();
        }
    }
}
