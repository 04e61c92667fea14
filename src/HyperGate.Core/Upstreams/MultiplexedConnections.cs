using HyperGate.Http2;

namespace HyperGate.Upstreams;

/// <summary>
/// A destination's HTTP/2 connections: streams spread over <c>h2_connections</c> of them (the least busy first),
/// and a further connection only when all are at the upstream's stream limit. Connections that closed or go away
/// leave the set as they are found.
/// </summary>
internal sealed class MultiplexedConnections
{
    private readonly List<Http2ClientConnection> _connections = [];
    private readonly Lock _lock = new();

    /// <summary>
    /// Opens a stream on a connection of the set; false when a new connection should be opened first (fewer than
    /// <paramref name="wanted"/> are open and every one is busy, or none has room).
    /// </summary>
    public bool TryOpenStream(int wanted, out Http2ClientConnection? connection, out UpstreamStream? stream)
    {
        lock (_lock)
        {
            _connections.RemoveAll(c => !c.IsUsable);
            while (true)
            {
                connection = null;
                foreach (Http2ClientConnection candidate in _connections)
                {
                    if (connection is null || candidate.ActiveStreams < connection.ActiveStreams)
                    {
                        connection = candidate;
                    }
                }

                if (connection is null || (_connections.Count < wanted && connection.ActiveStreams > 0))
                {
                    stream = null;
                    return false;
                }

                if (connection.TryOpenStream(out stream))
                {
                    return true;
                }

                // At its stream limit (or it just closed): the others may have room.
                _connections.Remove(connection);
                if (connection.IsUsable)
                {
                    _connections.Add(connection);
                    foreach (Http2ClientConnection other in _connections)
                    {
                        if (other != connection && other.TryOpenStream(out stream))
                        {
                            connection = other;
                            return true;
                        }
                    }

                    stream = null;
                    return false;
                }
            }
        }
    }

    public void Add(Http2ClientConnection connection)
    {
        lock (_lock)
        {
            _connections.Add(connection);
        }
    }

    /// <summary>Every connection closes gracefully: GOAWAY, the streams in flight finish.</summary>
    public void CloseAll()
    {
        lock (_lock)
        {
            foreach (Http2ClientConnection connection in _connections)
            {
                connection.RequestClose();
            }

            _connections.Clear();
        }
    }
}
