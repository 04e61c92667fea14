using HyperGate.Forwarding;
using HyperGate.Resilience;
using HyperGate.Upstreams.Balancing;
using HyperGate.Upstreams.Discovery;
using HyperGate.Upstreams.Health;
using HyperGate.Tls;

namespace HyperGate.Upstreams;

/// <summary>
/// A named set of destinations that routes forward to, with its timeouts, balancing and health. The balancer
/// covers the destinations that are available (not failing health checks, not ejected), or all of them in
/// panic; it is rebuilt when that set or a slow-start weight changes, never per request.
/// </summary>
public sealed class Upstream
{
    /// <summary>During slow start weights are scaled up by this much so that a ramp has steps finer than 1.</summary>
    private const int RampScale = 10;

    private readonly UpstreamConnectionManager _manager;
    private readonly Lock _gate = new();
    private readonly UpstreamTargets _static;
    private volatile UpstreamTargets _targets;
    private volatile Balancer? _balancer;

    public Upstream(
        string name,
        Destination[] destinations,
        int[] weights,
        UpstreamSettings settings,
        BalanceSettings balance,
        UpstreamHealthSettings health,
        UpstreamConnectionManager manager,
        CircuitBreaker? breaker = null,
        UpstreamAdmission? admission = null,
        DiscoverySettings? discovery = null)
    {
        Name = name;
        Breaker = breaker;
        Admission = admission;
        Discovery = discovery;
        _static = _targets = new UpstreamTargets(destinations, weights);
        Settings = settings;
        Balance = balance;
        Health = health;
        _manager = manager;
        lock (_gate)
        {
            Rebalance(manager.TimeProvider.GetTimestamp());
        }
    }

    public string Name { get; }

    /// <summary>The destinations and their weights: those written in the config, then those discovered.</summary>
    public UpstreamTargets Targets => _targets;

    public Destination[] Destinations => _targets.Destinations;

    /// <summary>Where destinations are discovered from, when anywhere.</summary>
    public DiscoverySettings? Discovery { get; }

    public UpstreamSettings Settings { get; }

    public BalanceSettings Balance { get; }

    public UpstreamHealthSettings Health { get; }

    /// <summary>The circuit breaker, when <c>circuit_breaker</c> is set; it outlives reloads that keep its settings.</summary>
    public CircuitBreaker? Breaker { get; }

    /// <summary>The caps on in-flight and pending requests, when set; they outlive reloads that keep them.</summary>
    public UpstreamAdmission? Admission { get; }

    /// <summary>True while too few destinations are available and all of them take traffic.</summary>
    public bool Panic { get; private set; }

    /// <summary>The destination for this request; null when the upstream has none.</summary>
    public Destination? PickDestination(Exchange exchange) => _balancer?.Pick(exchange);

    /// <summary>
    /// An exchange with <paramref name="destination"/> failed (passive health; a success is recorded on the
    /// destination itself). Enough failures in a row eject it, unless the share of destinations already ejected
    /// is at its cap (then it stays in and the next failure tries again).
    /// </summary>
    public void ReportFailure(Destination destination)
    {
        if (Health.Outlier is not { } outlier || destination.RecordFailure() < outlier.ConsecutiveFailures)
        {
            return;
        }

        TimeSpan ejection;
        lock (_gate)
        {
            long now = _manager.TimeProvider.GetTimestamp();
            int ejected = Destinations.Count(d => d.HealthAt(now) == DestinationHealth.Ejected);
            if (destination.HealthAt(now) == DestinationHealth.Ejected || ejected >= Math.Max(1, Destinations.Length * outlier.MaxEjectedPercent / 100))
            {
                return;
            }

            ejection = destination.Eject(now, outlier);
        }

        _manager.OnEjected(this, destination, ejection, outlier.ConsecutiveFailures);
        (destination.Owner ?? this).Refresh();
    }

    /// <summary>Replaces the discovered destinations (those written in the config stay) and rebalances.</summary>
    public void SetDiscovered(Destination[] destinations, int[] weights)
    {
        lock (_gate)
        {
            _targets = new UpstreamTargets([.. _static.Destinations, .. destinations], [.. _static.Weights, .. weights]);
            Rebalance(_manager.TimeProvider.GetTimestamp());
        }
    }

    /// <summary>
    /// Notices destinations that left or came back (starting their slow start) and rebuilds the balancer if its
    /// set or weights changed. Called on every health change and once a second by the connection manager.
    /// </summary>
    public void Refresh()
    {
        var changes = new List<(Destination Destination, DestinationHealth Health)>();
        lock (_gate)
        {
            long now = _manager.TimeProvider.GetTimestamp();
            foreach (Destination destination in Destinations)
            {
                DestinationHealth health = destination.HealthAt(now);
                bool available = health == DestinationHealth.Healthy;
                if (available != destination.WasAvailable)
                {
                    destination.WasAvailable = available;
                    destination.RampStart = available && Health.SlowStart > TimeSpan.Zero ? now : 0;
                    changes.Add((destination, health));
                }
            }

            Rebalance(now);
        }

        foreach ((Destination destination, DestinationHealth health) in changes)
        {
            _manager.OnHealthChanged(this, destination, health);
        }
    }

    private void Rebalance(long now)
    {
        (Destination[] all, int[] allWeights) = _targets;
        var chosen = new List<int>();
        for (int i = 0; i < all.Length; i++)
        {
            if (all[i].HealthAt(now) == DestinationHealth.Healthy)
            {
                chosen.Add(i);
            }
        }

        Panic = all.Length > 0 && (chosen.Count == 0 || chosen.Count * 100 < Health.PanicThreshold * all.Length);
        if (Panic)
        {
            chosen = [.. Enumerable.Range(0, all.Length)];
        }

        Destination[] destinations = [.. chosen.Select(i => all[i])];
        int[] weights = [.. chosen.Select(i => allWeights[i])];
        bool ramping = false;
        for (int i = 0; i < destinations.Length; i++)
        {
            long rampStart = destinations[i].RampStart;
            if (rampStart == 0)
            {
                continue;
            }

            double progress = _manager.TimeProvider.GetElapsedTime(rampStart, now) / Health.SlowStart;
            if (progress >= 1)
            {
                destinations[i].RampStart = 0;
                continue;
            }

            if (!ramping)
            {
                ramping = true;
                weights = [.. weights.Select(w => w * RampScale)];
            }

            weights[i] = Math.Max(1, (int)(weights[i] * progress));
        }

        Balancer? current = _balancer;
        if (destinations.Length == 0)
        {
            _balancer = null;
        }
        else if (current is null || !current.Destinations.AsSpan().SequenceEqual(destinations) || !current.Weights.AsSpan().SequenceEqual(weights))
        {
            _balancer = Balancer.Create(Balance, destinations, weights, Random.Shared, _manager.TimeProvider);
        }
    }
}

/// <summary>An upstream's destinations with their weights, in the same order; replaced whole, never changed.</summary>
public sealed record UpstreamTargets(Destination[] Destinations, int[] Weights);

/// <summary>Per-upstream timeouts and pool bounds, compiled from <c>[upstreams.NAME]</c>.</summary>
public sealed record UpstreamSettings(TimeSpan ConnectTimeout, TimeSpan ResponseTimeout, int MaxIdleConnections, TimeSpan IdleTimeout)
{
    /// <summary>TLS to the destinations; null for plain HTTP.</summary>
    public UpstreamTls? Tls { get; init; }

    /// <summary>HTTP/2 to the destinations, multiplexed; null for HTTP/1.1 keep-alive connections.</summary>
    public UpstreamHttp2? Http2 { get; init; }

    public static UpstreamSettings Default { get; } = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), 64, TimeSpan.FromSeconds(60));
}

/// <summary>An upstream spoken to in HTTP/2: <c>h2_connections</c> multiplexed connections per destination, pinged every <c>h2_ping_interval</c>.</summary>
public sealed record UpstreamHttp2(int Connections, TimeSpan PingInterval)
{
    /// <summary>The windows and limits of each connection (the gateway's side as a client).</summary>
    public Http2.Http2Settings Session { get; } = Http2.Http2Settings.Default;
}
