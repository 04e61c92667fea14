namespace HyperGate.Upstreams.Balancing;

/// <summary>Each request to a destination drawn at random in proportion to its weight.</summary>
public sealed class RandomBalancer : Balancer
{
    private readonly Random _random;
    private readonly long[] _cumulative;

    public RandomBalancer(Destination[] destinations, int[] weights, Random random)
        : base(destinations, weights)
    {
        _random = random;
        _cumulative = new long[weights.Length];
        long sum = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            sum += weights[i];
            _cumulative[i] = sum;
        }
    }

    public override Destination Pick(Forwarding.Exchange exchange)
    {
        if (EqualWeights)
        {
            return Destinations[_random.Next(Destinations.Length)];
        }

        // The first destination whose cumulative weight exceeds the draw.
        long draw = _random.NextInt64(_cumulative[^1]);
        int index = Array.BinarySearch(_cumulative, draw + 1);
        return Destinations[index >= 0 ? index : ~index];
    }
}
