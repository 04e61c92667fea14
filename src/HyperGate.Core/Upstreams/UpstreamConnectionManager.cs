using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Reflection;
using HyperGate.Buffers;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Upstreams;

/// <summary>
/// Owns every connection pool, keyed by destination address, so that pools (and their warm connections)
/// outlive config snapshots. A timer evicts idle connections off the hot path.
/// </summary>
public sealed class UpstreamConnectionManager : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ConnectionPool> _pools = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<(string Upstream, string Address), Destination> _destinations = new();
    private readonly SocketConnectionContextFactory _connectionFactory;
    private readonly TimeProvider _timeProvider;
    private readonly ITimer _evictionTimer;

    public UpstreamConnectionManager(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;

        // Upstream replies follow our writes closely, so reading straight into a buffer saves the
        // zero-byte read Kestrel otherwise issues to wait for data.
        var options = new SocketConnectionFactoryOptions { WaitForDataBeforeAllocatingBuffer = false };
        UseRetainingPool(options);
        _connectionFactory = new SocketConnectionContextFactory(options, NullLogger.Instance);
        _evictionTimer = timeProvider.CreateTimer(_ => EvictIdle(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>
    /// The upstream sockets get the same non-evicting block pool as the listeners (see <see cref="RetainingBlockPool"/>).
    /// Kestrel exposes the pool factory of client connections only internally, so it is set by name; if a later
    /// Kestrel renames it, upstream connections simply keep Kestrel's default pool.
    /// </summary>
    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicProperties | DynamicallyAccessedMemberTypes.PublicProperties, typeof(SocketConnectionFactoryOptions))]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "The DynamicDependency keeps the property for trimmed and native builds; a missing property is handled.")]
    private static void UseRetainingPool(SocketConnectionFactoryOptions options) =>
        options.GetType()
            .GetProperty("MemoryPoolFactory", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)?
            .SetValue(options, new RetainingBlockPoolFactory());

    public TimeProvider TimeProvider => _timeProvider;

    /// <summary>The pool of a destination; an existing pool keeps its settings until <see cref="Retain"/> applies new ones.</summary>
    public ConnectionPool GetOrCreatePool(string address, EndPoint endPoint, UpstreamSettings settings) =>
        _pools.GetOrAdd(address, _ => new ConnectionPool(endPoint, settings, _connectionFactory, _timeProvider));

    /// <summary>
    /// The destination <paramref name="address"/> of upstream <paramref name="upstream"/>: the same object across
    /// reloads while the upstream keeps the address, so its load and latency carry over.
    /// </summary>
    public Destination GetOrCreateDestination(string upstream, string address, EndPoint endPoint, UpstreamSettings settings) =>
        _destinations.GetOrAdd((upstream, address), _ => new Destination(address, endPoint, GetOrCreatePool(address, endPoint, settings), _timeProvider));

    /// <summary>
    /// Once a snapshot is current: the pools of its destinations take their upstream's settings, and every
    /// other pool is retired (its busy connections finish their exchange, then close).
    /// </summary>
    public void Retain(IEnumerable<Upstream> upstreams)
    {
        var used = new HashSet<ConnectionPool>();
        var current = new HashSet<Destination>();
        foreach (Upstream upstream in upstreams)
        {
            foreach (Destination destination in upstream.Destinations)
            {
                destination.Pool.Settings = upstream.Settings;
                used.Add(destination.Pool);
                current.Add(destination);
            }
        }

        foreach ((var key, Destination destination) in _destinations)
        {
            if (!current.Contains(destination))
            {
                _destinations.TryRemove(new(key, destination));
            }
        }

        foreach ((string address, ConnectionPool pool) in _pools)
        {
            if (!used.Contains(pool) && _pools.TryRemove(new KeyValuePair<string, ConnectionPool>(address, pool)))
            {
                pool.Retire();
            }
        }
    }

    public void EvictIdle()
    {
        foreach (ConnectionPool pool in _pools.Values)
        {
            pool.EvictIdle();
        }
    }

    public ValueTask DisposeAsync()
    {
        _evictionTimer.Dispose();
        foreach (ConnectionPool pool in _pools.Values)
        {
            pool.Clear();
        }

        _connectionFactory.Dispose();
        return ValueTask.CompletedTask;
    }
}
