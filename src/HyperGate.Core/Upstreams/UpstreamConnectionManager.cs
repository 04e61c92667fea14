using System.Collections.Concurrent;
using System.Net;
using HyperGate.Resilience;
using HyperGate.Transport;
using HyperGate.Upstreams.Discovery;
using HyperGate.Upstreams.Health;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Upstreams;

/// <summary>
/// Owns every connection pool, keyed by destination address, and every destination with its health, active
/// checks and discovery, so that pools (and their warm connections), health and discovered destinations outlive
/// config snapshots. A timer ticking once a second evicts idle connections and refreshes the current upstreams'
/// health (ejections ending, slow starts ramping) off the hot path.
/// </summary>
public sealed class UpstreamConnectionManager : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ConnectionPool> _pools = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<(string Upstream, string Address), Destination> _destinations = new();
    private readonly ConcurrentDictionary<string, CircuitBreaker> _breakers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, UpstreamAdmission> _admissions = new(StringComparer.Ordinal);
    private readonly IUpstreamConnector _connector;
    private readonly TimeProvider _timeProvider;
    private readonly UpstreamConnectionStates _connectionStates;
    private readonly ITimer _tick;
    private readonly ILogger _logger;
    private readonly Dictionary<Destination, ActiveHealthCheck> _checks = [];
    private readonly Lock _retaining = new();
    private readonly Dictionary<Upstream, UpstreamDiscovery> _preparing = [];
    private Dictionary<string, UpstreamDiscovery> _discoveries = new(StringComparer.Ordinal);
    private volatile Upstream[] _current = [];

    public UpstreamConnectionManager(TimeProvider timeProvider, ILogger? logger = null)
    {
        _timeProvider = timeProvider;
        _connectionStates = new UpstreamConnectionStates(timeProvider);
        _logger = logger ?? NullLogger.Instance;

        _connector = (IUpstreamConnector?)EventLoopTransport.Shared ?? new SocketsUpstreamConnector();
        _tick = timeProvider.CreateTimer(static state => ((UpstreamConnectionManager)state!).Tick(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public TimeProvider TimeProvider => _timeProvider;

    /// <summary>Raised when a destination leaves or rejoins its upstream's balancer set.</summary>
    public event Action<Upstream, Destination, DestinationHealth>? HealthChanged;

    /// <summary>Raised when discovery changed a current upstream's destinations.</summary>
    public event Action<Upstream>? Discovered;

    /// <summary>Raised when a discovery source fails (the upstream's name, why); the last good answer stays.</summary>
    public event Action<string, string>? DiscoveryFailed;

    /// <summary>The pool of a destination; an existing pool keeps its settings until <see cref="Retain"/> applies new ones.</summary>
    public ConnectionPool GetOrCreatePool(string address, EndPoint endPoint, UpstreamSettings settings) =>
        // A destination spoken to with TLS and without are two pools: their connections are not interchangeable.
        _pools.GetOrAdd(settings.Tls is null ? address : "tls:" + address, _ => new ConnectionPool(endPoint, settings, _connector, _timeProvider, _connectionStates, HostOf(address)));

    /// <summary>The host of "host:port" (an IPv6 literal without its brackets): the name TLS to it expects.</summary>
    private static string HostOf(string address)
    {
        int colon = address.LastIndexOf(':');
        string host = colon > 0 && address.IndexOf(']') < colon ? address[..colon] : address;
        return host.Trim('[', ']');
    }

    /// <summary>Upstream <paramref name="upstream"/>'s breaker: the running one (with its state) while the settings stay the same.</summary>
    public CircuitBreaker GetOrCreateBreaker(string upstream, CircuitBreakerSettings settings) =>
        _breakers.AddOrUpdate(upstream, _ => new CircuitBreaker(settings, _timeProvider), (_, running) => running.Settings == settings ? running : new CircuitBreaker(settings, _timeProvider));

    /// <summary>Upstream <paramref name="upstream"/>'s caps: the running ones (with their counts) while the limits stay the same.</summary>
    public UpstreamAdmission GetOrCreateAdmission(string upstream, int maxInFlight, int maxPending) =>
        _admissions.AddOrUpdate(upstream, _ => new UpstreamAdmission(maxInFlight, maxPending),
            (_, running) => running.MaxInFlight == maxInFlight && running.MaxPending == maxPending ? running : new UpstreamAdmission(maxInFlight, maxPending));

    /// <summary>
    /// The destination <paramref name="address"/> of upstream <paramref name="upstream"/>: the same object across
    /// reloads while the upstream keeps the address, so its load and latency carry over.
    /// </summary>
    public Destination GetOrCreateDestination(string upstream, string address, EndPoint endPoint, UpstreamSettings settings, string? hostHeader = null) =>
        _destinations.GetOrAdd((upstream, address), _ => new Destination(address, endPoint, GetOrCreatePool(address, endPoint, settings), _timeProvider, hostHeader));

    /// <summary>
    /// Once a snapshot is current (or a reload was abandoned and the running one stays): the pools of its
    /// destinations take their upstream's settings, discoveries follow its upstreams (kept when unchanged, those
    /// prepared for it adopted, the rest stopped), and every other pool is retired (its busy connections finish
    /// their exchange, then close).
    /// </summary>
    public void Retain(IEnumerable<Upstream> upstreams)
    {
        var starting = new List<UpstreamDiscovery>();
        lock (_retaining)
        {
            _current = [.. upstreams];
            var kept = new Dictionary<string, UpstreamDiscovery>(StringComparer.Ordinal);
            foreach (Upstream upstream in _current.Where(u => u.Discovery is not null))
            {
                if (!_preparing.TryGetValue(upstream, out UpstreamDiscovery? discovery)
                    && (!_discoveries.TryGetValue(upstream.Name, out discovery) || discovery.Settings.Key != upstream.Discovery!.Key))
                {
                    discovery = NewDiscovery(upstream);
                    starting.Add(discovery);
                }

                discovery.Attached = upstream;
                kept[upstream.Name] = discovery;
            }

            foreach (UpstreamDiscovery stale in _discoveries.Values.Concat(_preparing.Values).Where(d => !kept.ContainsValue(d)))
            {
                stale.Dispose();
            }

            _discoveries = kept;
            _preparing.Clear();
            RetainResources();
        }

        starting.ForEach(d => d.Start());
    }

    /// <summary>
    /// Before a compiled snapshot is published: starts discovery for its upstreams whose discovery settings are
    /// new or changed, and waits for their first answers, so the snapshot serves with its destinations at once.
    /// </summary>
    public async Task PrepareDiscoveryAsync(IEnumerable<Upstream> upstreams)
    {
        var started = new List<(Upstream Upstream, UpstreamDiscovery Discovery)>();
        lock (_retaining)
        {
            foreach (Upstream upstream in upstreams.Where(u => u.Discovery is not null))
            {
                if (!_discoveries.TryGetValue(upstream.Name, out UpstreamDiscovery? running) || running.Settings.Key != upstream.Discovery!.Key)
                {
                    UpstreamDiscovery discovery = NewDiscovery(upstream);
                    _preparing[upstream] = discovery;
                    started.Add((upstream, discovery));
                }
            }
        }

        started.ForEach(s => s.Discovery.Start());
        await Task.WhenAll(started.Select(s => s.Discovery.Started));
    }

    /// <summary>Completes when every running discovery has had its first answers (the gateway waits for it at start).</summary>
    public Task DiscoveryStartedAsync()
    {
        lock (_retaining)
        {
            return Task.WhenAll(_discoveries.Values.Select(d => d.Started));
        }
    }

    /// <summary>What discovery currently knows for <paramref name="upstream"/>'s settings (nothing when they changed).</summary>
    public (Destination[] Destinations, int[] Weights) DiscoveredTargets(string upstream, DiscoverySettings settings, UpstreamSettings upstreamSettings)
    {
        lock (_retaining)
        {
            return _discoveries.TryGetValue(upstream, out UpstreamDiscovery? running) && running.Settings.Key == settings.Key
                ? Resolve(upstream, running.Current, upstreamSettings)
                : ([], []);
        }
    }

    private UpstreamDiscovery NewDiscovery(Upstream upstream) =>
        new(upstream.Name, upstream.Discovery!, _timeProvider, _logger, OnDiscovered, (discovery, reason) => DiscoveryFailed?.Invoke(discovery.UpstreamName, reason));

    /// <summary>A discovery found a new set: its upstream (current or being prepared) takes it, and pools no longer used drain.</summary>
    private void OnDiscovered(UpstreamDiscovery discovery)
    {
        lock (_retaining)
        {
            Upstream? upstream = discovery.Attached ?? _preparing.FirstOrDefault(p => p.Value == discovery).Key;
            if (upstream is null)
            {
                return;
            }

            Destination[] before = upstream.Destinations;
            (Destination[] destinations, int[] weights) = Resolve(upstream.Name, discovery.Current, upstream.Settings);
            upstream.SetDiscovered(destinations, weights);
            if (discovery.Attached is not null)
            {
                foreach (Destination destination in destinations)
                {
                    destination.Owner = upstream;
                    destination.Pool.Settings = upstream.Settings;
                }
            }

            // Only what this change removed is let go: a reload may be compiling against the other pools right now.
            var used = _current.Concat(_preparing.Keys).SelectMany(u => u.Destinations).Select(d => d.Pool).ToHashSet();
            foreach (Destination removed in before.Except(upstream.Destinations))
            {
                _destinations.TryRemove(new((upstream.Name, removed.Address), removed));
                if (!used.Contains(removed.Pool) && _pools.TryRemove(new KeyValuePair<string, ConnectionPool>(removed.Address, removed.Pool)))
                {
                    removed.Pool.Retire();
                }
            }

            RetainChecks();
        }

        if (discovery.Attached is { } current)
        {
            Discovered?.Invoke(current);
        }
    }

    private (Destination[] Destinations, int[] Weights) Resolve(string upstream, IReadOnlyList<DiscoveredTarget> found, UpstreamSettings settings) =>
        ([.. found.Select(t => GetOrCreateDestination(upstream, t.Address, t.EndPoint, settings, t.HostHeader))], [.. found.Select(t => t.Weight)]);

    /// <summary>Pools, destinations, checks, breakers and caps follow the current upstreams (and keep what prepared ones use).</summary>
    private void RetainResources()
    {
        var used = new HashSet<ConnectionPool>();
        var current = new HashSet<Destination>();
        foreach (Upstream upstream in _current.Concat(_preparing.Keys))
        {
            bool isCurrent = _current.Contains(upstream);
            foreach (Destination destination in upstream.Destinations)
            {
                if (isCurrent)
                {
                    destination.Pool.Settings = upstream.Settings;
                    destination.Owner = upstream;
                }

                used.Add(destination.Pool);
                current.Add(destination);
            }
        }

        RetainChecks();
        foreach (string name in _breakers.Keys.Where(name => !_current.Any(u => u.Name == name && u.Breaker is not null)))
        {
            _breakers.TryRemove(name, out _);
        }

        foreach (string name in _admissions.Keys.Where(name => !_current.Any(u => u.Name == name && u.Admission is not null)))
        {
            _admissions.TryRemove(name, out _);
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

    /// <summary>
    /// Starts the active checks of the current destinations whose upstream has <c>health_check</c> (restarting
    /// them when its settings changed) and stops the others; a destination no longer checked counts as healthy.
    /// </summary>
    private void RetainChecks()
    {
        lock (_checks)
        {
            var wanted = new Dictionary<Destination, HealthCheckSettings>();
            foreach (Upstream upstream in _current)
            {
                foreach (Destination destination in upstream.Destinations)
                {
                    if (upstream.Health.Check is { } check)
                    {
                        wanted[destination] = check;
                    }
                }
            }

            foreach ((Destination destination, ActiveHealthCheck check) in _checks.ToList())
            {
                if (!wanted.TryGetValue(destination, out HealthCheckSettings? settings) || settings != check.Settings)
                {
                    check.Dispose();
                    _checks.Remove(destination);
                    if (settings is null)
                    {
                        destination.ActiveHealthy = true;
                    }
                }
            }

            foreach ((Destination destination, HealthCheckSettings settings) in wanted)
            {
                if (!_checks.ContainsKey(destination))
                {
                    _checks[destination] = new ActiveHealthCheck(destination, settings, _timeProvider, Random.Shared, d => d.Owner?.Refresh());
                }
            }
        }
    }

    internal void OnEjected(Upstream upstream, Destination destination, TimeSpan duration, int failures) =>
        _logger.LogWarning("destination {Destination} of upstream {Upstream} ejected for {Duration} after {Failures} failures in a row",
            destination.Address, upstream.Name, duration, failures);

    internal void OnHealthChanged(Upstream upstream, Destination destination, DestinationHealth health)
    {
        if (health == DestinationHealth.Healthy)
        {
            _logger.LogInformation("destination {Destination} of upstream {Upstream} is back", destination.Address, upstream.Name);
        }
        else
        {
            _logger.LogWarning("destination {Destination} of upstream {Upstream} is out: {Health}", destination.Address, upstream.Name, health);
        }

        HealthChanged?.Invoke(upstream, destination, health);
    }

    private void Tick()
    {
        EvictIdle();
        foreach (Upstream upstream in _current)
        {
            upstream.Refresh();
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
        _tick.Dispose();
        lock (_retaining)
        {
            foreach (UpstreamDiscovery discovery in _discoveries.Values.Concat(_preparing.Values))
            {
                discovery.Dispose();
            }
        }

        lock (_checks)
        {
            foreach (ActiveHealthCheck check in _checks.Values)
            {
                check.Dispose();
            }

            _checks.Clear();
        }

        foreach (ConnectionPool pool in _pools.Values)
        {
            pool.Clear();
        }

        _connectionStates.Dispose();
        return ValueTask.CompletedTask;
    }
}
