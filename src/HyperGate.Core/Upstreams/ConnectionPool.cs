using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Net.Security;
using HyperGate.Http1;
using HyperGate.Http2;
using HyperGate.Tls;
using HyperGate.Transport;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Upstreams;

/// <summary>
/// Keep-alive connections to one destination. Rent and return are lock-free (a concurrent queue whose
/// segment is reused while the idle count stays under its capacity, so steady state allocates nothing).
/// </summary>
public sealed class ConnectionPool
{
    private readonly ConcurrentQueue<UpstreamConnection> _idle = new();
    private readonly IUpstreamConnector _connector;
    private readonly TimeProvider _timeProvider;
    private readonly UpstreamConnectionStates _states;
    private readonly MultiplexedConnections _multiplexed = new();
    private readonly SemaphoreSlim _connectingHttp2 = new(1, 1);
    private int _idleCount;
    private int _activeCount;
    private volatile bool _retired;

    internal ConnectionPool(EndPoint endPoint, UpstreamSettings settings, IUpstreamConnector connector, TimeProvider timeProvider, UpstreamConnectionStates states, string host = "")
    {
        Host = host;
        EndPoint = endPoint;
        Settings = settings;
        _connector = connector;
        _timeProvider = timeProvider;
        _states = states;
    }

    public EndPoint EndPoint { get; }

    /// <summary>The destination's host as its address names it: the server name TLS to it expects.</summary>
    public string Host { get; }

    /// <summary>Replaced when a reload changes the upstream's settings; connections already open are kept.</summary>
    public UpstreamSettings Settings { get; internal set; }

    public int IdleCount => Volatile.Read(ref _idleCount);

    /// <summary>Connections currently carrying an exchange.</summary>
    public int ActiveCount => Volatile.Read(ref _activeCount);

    /// <summary>Returns a usable idle connection, or opens a new one. Throws <see cref="UpstreamException"/> on failure.</summary>
    public ValueTask<UpstreamConnection> RentAsync(CancellationToken cancellationToken) =>
        TryRentIdle(out UpstreamConnection? connection) ? ValueTask.FromResult(connection) : ConnectAsync(cancellationToken);

    /// <summary>
    /// Takes a usable idle connection, discarding any the peer closed or that idled too long; to an HTTP/2
    /// upstream, a new stream on one of its connections.
    /// </summary>
    public bool TryRentIdle([NotNullWhen(true)] out UpstreamConnection? connection)
    {
        if (Settings.Http2 is { } http2)
        {
            connection = null;
            return _multiplexed.TryOpenStream(http2.Connections, out Http2ClientConnection? multiplexed, out UpstreamStream? stream)
                && Leased(multiplexed!, stream!, out connection);
        }

        while (_idle.TryDequeue(out connection))
        {
            Interlocked.Decrement(ref _idleCount);
            if (connection.IsUsable() && !IsExpired(connection, _timeProvider.GetTimestamp()))
            {
                Interlocked.Increment(ref _activeCount);
                return true;
            }

            connection.Close();
        }

        return false;
    }

    /// <summary>Opens a new connection, bypassing idle ones (used to retry after a reused connection failed).</summary>
    /// <remarks>The connection's state (its connect timeout among it) is a closed connection's, when one is kept.</remarks>
    public async ValueTask<UpstreamConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        if (Settings.Http2 is { } http2)
        {
            // Exchanges that find no room connect one at a time: each may find a stream on the one opened before it,
            // rather than all opening connections of their own at once.
            if (!await _connectingHttp2.WaitAsync(Settings.ConnectTimeout, cancellationToken))
            {
                throw new UpstreamException(RejectionReason.UpstreamConnectTimeout, $"connecting to {EndPoint} timed out");
            }

            try
            {
                if (_multiplexed.TryOpenStream(http2.Connections, out Http2ClientConnection? multiplexed, out UpstreamStream? stream))
                {
                    Leased(multiplexed!, stream!, out UpstreamConnection leased);
                    return leased;
                }

                return await OpenConnectionAsync(cancellationToken);
            }
            finally
            {
                _connectingHttp2.Release();
            }
        }

        return await OpenConnectionAsync(cancellationToken);
    }

    private async ValueTask<UpstreamConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        UpstreamConnectionState state = _states.Rent();
        CancellationTokenRegistration caller = cancellationToken.UnsafeRegister(static s => ((UpstreamConnectionState)s!).CancelConnect(), state);
        UpstreamConnection? connection = null;
        try
        {
            CancellationToken connecting = state.StartConnect(Settings.ConnectTimeout);
            ConnectionContext context = await _connector.ConnectAsync(EndPoint, connecting);
            if (Settings.Tls is { } tls)
            {
                // The handshake is part of connecting: within connect_timeout, and a failure is the destination's.
                context = await HandshakeAsync(tls, context, connecting);
            }

            if (Settings.Http2 is { } http2)
            {
                // Each stream gets a state of its own; the connection's was only for connecting.
                caller.Dispose();
                state.EndConnect();
                _states.Return(state);
                state = null!;
                return await OpenHttp2Async(context, http2);
            }

            Interlocked.Increment(ref _activeCount);
            connection = new UpstreamConnection(context, this, state, _states);
            return connection;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new UpstreamException(RejectionReason.UpstreamConnectTimeout, $"connecting to {EndPoint} timed out");
        }
        catch (SocketException e)
        {
            throw new UpstreamException(RejectionReason.UpstreamConnectFailed, $"connecting to {EndPoint} failed: {e.SocketErrorCode}");
        }
        finally
        {
            caller.Dispose();
            if (state is not null)
            {
                state.EndConnect();
                if (connection is null)
                {
                    _states.Return(state);
                }
            }
        }
    }

    /// <summary>A new HTTP/2 connection joins the destination's set, and carries the stream asked for.</summary>
    private async ValueTask<UpstreamConnection> OpenHttp2Async(ConnectionContext context, UpstreamHttp2 http2)
    {
        if (context is SslStreamConnection { ApplicationProtocol: var alpn } && alpn != SslApplicationProtocol.Http2)
        {
            await context.DisposeAsync();
            throw new UpstreamException(RejectionReason.UpstreamTlsFailed, $"TLS to {EndPoint}: the upstream did not choose h2 by ALPN");
        }

        Http2ClientConnection connection = await Http2ClientConnection.StartAsync(context, http2.Session, Settings.Tls is not null, _timeProvider, Settings.IdleTimeout, http2.PingInterval);
        _multiplexed.Add(connection);
        if (!connection.TryOpenStream(out UpstreamStream? stream))
        {
            throw new UpstreamException(RejectionReason.UpstreamClosed, $"the HTTP/2 connection to {EndPoint} closed at once");
        }

        Leased(connection, stream!, out UpstreamConnection leased);
        return leased;
    }

    /// <summary>A stream as the connection the forwarder leases; "exchanges before" counts the connection's earlier streams.</summary>
    private bool Leased(Http2ClientConnection connection, UpstreamStream stream, out UpstreamConnection leased)
    {
        Interlocked.Increment(ref _activeCount);
        leased = new UpstreamConnection(new UpstreamStreamConnection(stream, connection.RemoteEndPoint), this, _states.Rent(), _states)
        {
            CompletedExchanges = connection.StreamsBefore,
        };
        return true;
    }

    private async ValueTask<ConnectionContext> HandshakeAsync(UpstreamTls tls, ConnectionContext context, CancellationToken cancellationToken)
    {
        try
        {
            return await tls.ConnectAsync(context, Host, cancellationToken);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await context.DisposeAsync();
            throw new UpstreamException(RejectionReason.UpstreamTlsFailed, $"TLS to {EndPoint} failed: {e.Message}");
        }
        catch (OperationCanceledException)
        {
            await context.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Gives a connection back. Only a connection whose exchange was fully read may be reused; the others close in
    /// the background (the exchange does not wait for its upstream's socket to close).
    /// </summary>
    public void Return(UpstreamConnection connection, bool reusable)
    {
        Interlocked.Decrement(ref _activeCount);
        if (Settings.Http2 is not null)
        {
            // A stream is never reused: giving it back ends it (its connection carries the next one).
            connection.Close();
            return;
        }

        if (reusable && !_retired && Interlocked.Increment(ref _idleCount) <= Settings.MaxIdleConnections)
        {
            connection.CompletedExchanges++;
            connection.IdleSinceTimestamp = _timeProvider.GetTimestamp();
            _idle.Enqueue(connection);
            if (_retired)
            {
                // Retired while we were returning: nothing evicts a retired pool, so close it now.
                Clear();
            }

            return;
        }

        if (reusable)
        {
            Interlocked.Decrement(ref _idleCount);
        }

        connection.Close();
    }

    /// <summary>Closes idle connections past their idle timeout or closed by the peer. Runs off the hot path.</summary>
    internal void EvictIdle()
    {
        long now = _timeProvider.GetTimestamp();
        for (int i = Volatile.Read(ref _idleCount); i > 0 && _idle.TryDequeue(out UpstreamConnection? connection); i--)
        {
            if (!connection.IsUsable() || IsExpired(connection, now))
            {
                Interlocked.Decrement(ref _idleCount);
                connection.Close();
            }
            else
            {
                _idle.Enqueue(connection);
            }
        }
    }

    /// <summary>
    /// The destination left the config: idle connections close now, busy ones when their exchange ends
    /// (drained, not cut).
    /// </summary>
    internal void Retire()
    {
        _retired = true;
        Clear();
    }

    /// <summary>Closes every idle connection (shutdown, or the destination left the config).</summary>
    internal void Clear()
    {
        _multiplexed.CloseAll();
        while (_idle.TryDequeue(out UpstreamConnection? connection))
        {
            Interlocked.Decrement(ref _idleCount);
            connection.Close();
        }
    }

    private bool IsExpired(UpstreamConnection connection, long now) =>
        _timeProvider.GetElapsedTime(connection.IdleSinceTimestamp, now) >= Settings.IdleTimeout;
}

/// <summary>An upstream failure, carrying the reason the downstream will be told.</summary>
public sealed class UpstreamException(RejectionReason reason, string message) : Exception(message)
{
    public RejectionReason Reason { get; } = reason;
}
