namespace HyperGate.Upstreams.Balancing;

/// <summary>Each request to a destination drawn at random in proportion to its weight.</summary>
public sealed class RandomBalancer(Destination[] destinations, int[] weights, Random random) : Balancer(destinations, weights)
{
    private readonly WeightedDraw _draw = new(weights);

    public override Destination Pick(Forwarding.Exchange exchange) =>
        Destinations[EqualWeights ? random.Next(Destinations.Length) : _draw.Next(random)];
}
