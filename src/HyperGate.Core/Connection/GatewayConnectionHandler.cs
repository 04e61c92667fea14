using System.Collections.Concurrent;
using System.Net;
using HyperGate.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace HyperGate.Connection;

/// <summary>
/// The listeners hand every accepted downstream connection here; from now on the bytes are ours. The state that
/// serves a connection (its exchange, request head buffers, forwarder, timers: about 2 KB in a dozen objects) is kept
/// when the connection ends and serves a later one, so a new connection does not allocate it again.
/// </summary>
public sealed class GatewayConnectionHandler(GatewayRuntime runtime)
{
    /// <summary>Idle connection states kept for reuse: enough for a burst of new connections, bounded for memory.</summary>
    public const int MaxIdleStates = 1024;

    private readonly ConcurrentQueue<DownstreamConnection> _idle = new();
    private int _idleCount;

    /// <summary>Connection states waiting for their next connection.</summary>
    public int IdleStates => Volatile.Read(ref _idleCount);

    /// <summary>
    /// Serves the connection until it ends; when <paramref name="closeRequested"/> fires (shutdown, or its address left
    /// the config), an idle connection closes at once and a busy one after its response. The state that serves it is
    /// an earlier connection's when one is idle, and is kept for a later one when this one ends cleanly. Returns true
    /// when it ended cleanly: nothing of the gateway uses the connection any more.
    /// </summary>
    public ValueTask<bool> ServeAsync(ConnectionContext connection, CancellationToken closeRequested)
    {
        bool isHttps = connection.Features.Get<ITlsHandshakeFeature>() is not null;
        DownstreamConnection downstream = Rent();
        downstream.Attach(connection.Transport.Input, connection.Transport.Output, (connection.RemoteEndPoint as IPEndPoint)?.Address, isHttps);
        return downstream.RunAsync(closeRequested);
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

    /// <summary>Called by a connection's state as its connection ends.</summary>
    internal void Return(DownstreamConnection downstream, bool reusable)
    {
        if (reusable && Interlocked.Increment(ref _idleCount) <= MaxIdleStates)
        {
            downstream.Detach();
            _idle.Enqueue(downstream);
            return;
        }

        if (reusable)
        {
            Interlocked.Decrement(ref _idleCount);
        }

        downstream.Dispose();
    }
}
