using System.Collections.Concurrent;
using HyperGate.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace HyperGate.Connection;

/// <summary>
/// The listeners hand every accepted downstream connection here; from now on the bytes are ours. The state that
/// serves a connection (its exchange, request head buffers, forwarder, timers: about 2 KB in a dozen objects) is kept
/// when the connection ends and serves a later one, so a new connection does not allocate it again.
/// </summary>
public sealed class GatewayConnectionHandler(GatewayRuntime runtime, ILogger logger)
{
    /// <summary>Idle connection states kept for reuse: enough for a burst of new connections, bounded for memory.</summary>
    public const int MaxIdleStates = 1024;

    private readonly ConcurrentQueue<DownstreamConnection> _idle = new();
    private int _idleCount;

    /// <summary>Connection states waiting for their next connection.</summary>
    public int IdleStates => Volatile.Read(ref _idleCount);

    internal ILogger Log => logger;

    /// <summary>HTTP/2 request streams kept for any later connection's streams, as these states are for connections.</summary>
    internal Http2.ExchangeStreamPool Http2Streams { get; } = new();

    /// <summary>
    /// Serves the connection until it ends, then closes it, telling <paramref name="owner"/> both (see
    /// <see cref="IConnectionOwner"/>). Runs on the caller's thread until the connection's first wait. The state that
    /// serves it is an earlier connection's when one is idle, and is kept for a later one when this one ends cleanly;
    /// a connection that ended cleanly is recycled by its transport.
    /// </summary>
    public void Serve(ConnectionContext connection, IConnectionOwner owner)
    {
        Rent().Serve(connection, owner);
    }

    private DownstreamConnection Rent()
    {
        if (_idle.TryDequeue(out DownstreamConnection? idle))
        {
            Interlocked.Decrement(ref _idleCount);
            return idle;
        }

        return new DownstreamConnection(runtime, this);
    }

    /// <summary>Offered by a connection's state whose connection ended cleanly: false when enough are idle.</summary>
    internal bool Keep(DownstreamConnection downstream)
    {
        if (Interlocked.Increment(ref _idleCount) <= MaxIdleStates)
        {
            _idle.Enqueue(downstream);
            return true;
        }

        Interlocked.Decrement(ref _idleCount);
        return false;
    }
}
