using HyperGate.Forwarding;
using HyperGate.Upstreams.Balancing;

namespace HyperGate.Upstreams;

/// <summary>A named set of destinations that routes forward to, with its timeouts and balancing.</summary>
public sealed class Upstream
{
    private readonly Balancer? _balancer;

    public Upstream(string name, Destination[] destinations, int[] weights, UpstreamSettings settings, BalanceSettings balance, Random random, TimeProvider time)
    {
        Name = name;
        Destinations = destinations;
        Weights = weights;
        Settings = settings;
        Balance = balance;
        _balancer = destinations.Length == 0 ? null : Balancer.Create(balance, destinations, weights, random, time);
    }

    public string Name { get; }

    public Destination[] Destinations { get; }

    /// <summary>Each destination's configured weight, in the same order.</summary>
    public int[] Weights { get; }

    public UpstreamSettings Settings { get; }

    public BalanceSettings Balance { get; }

    /// <summary>The destination for this request; null when the upstream has none.</summary>
    public Destination? PickDestination(Exchange exchange) => _balancer?.Pick(exchange);
}

/// <summary>Per-upstream timeouts and pool bounds, compiled from <c>[upstreams.NAME]</c>.</summary>
public sealed record UpstreamSettings(TimeSpan ConnectTimeout, TimeSpan ResponseTimeout, int MaxIdleConnections, TimeSpan IdleTimeout)
{
    public static UpstreamSettings Default { get; } = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), 64, TimeSpan.FromSeconds(60));
}
