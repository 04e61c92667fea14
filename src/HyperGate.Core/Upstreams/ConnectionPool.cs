using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using HyperGate.Http1;
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

    /// <summary>Takes a usable idle connection, discarding any the peer closed or that idled too long.</summary>
    public bool TryRentIdle([NotNullWhen(true)] out UpstreamConnection? connection)
    {
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
            state.EndConnect();
            if (connection is null)
            {
                _states.Return(state);
            }
        }
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
