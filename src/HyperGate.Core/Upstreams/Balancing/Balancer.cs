using HyperGate.Forwarding;

namespace HyperGate.Upstreams.Balancing;

/// <summary>
/// Picks a destination for each request out of one fixed set of destinations and weights. A balancer is built
/// for a set and replaced when the set changes (health, slow start, reload), so a pick reads only immutable
/// arrays and the destinations' load counters, takes no lock and allocates nothing.
/// </summary>
public abstract class Balancer
{
    protected Balancer(Destination[] destinations, int[] weights)
    {
        Destinations = destinations;
        Weights = weights;
        EqualWeights = weights.All(w => w == weights[0]);
    }

    /// <summary>The candidates, never empty.</summary>
    public Destination[] Destinations { get; }

    /// <summary>Each candidate's weight (at least 1), in the same order.</summary>
    public int[] Weights { get; }

    protected bool EqualWeights { get; }

    public abstract Destination Pick(Exchange exchange);

    public static Balancer Create(BalanceSettings settings, Destination[] destinations, int[] weights, Random random, TimeProvider time) =>
        settings.Algorithm switch
        {
            BalanceAlgorithm.RoundRobin => new SmoothRoundRobinBalancer(destinations, weights, random),
            BalanceAlgorithm.LeastRequests => new LeastRequestsBalancer(destinations, weights),
            BalanceAlgorithm.ConsistentHash => new ConsistentHashBalancer(destinations, weights, settings.HashOn!, settings.HashLoadFactor, random),
            BalanceAlgorithm.Random => new RandomBalancer(destinations, weights, random),
            _ => new PowerOfTwoChoicesBalancer(destinations, weights, random, time),
        };
}
