namespace HyperGate.Upstreams.Balancing;

/// <summary>
/// Power of two choices: two distinct destinations at random, and the cheaper of the two, where the cost is the
/// latency average times (in-flight + 1), divided by the weight. Comparing two is nearly as good as scanning
/// all, without every gateway core stampeding toward the same least-loaded destination.
/// </summary>
public sealed class PowerOfTwoChoicesBalancer(Destination[] destinations, int[] weights, Random random, TimeProvider time)
    : Balancer(destinations, weights)
{
    /// <summary>A destination not yet measured but already busy: avoided until its first answer gives it a cost.</summary>
    private const double UnmeasuredBusyCost = 1e12;

    public override Destination Pick(Forwarding.Exchange exchange)
    {
        Destination[] destinations = Destinations;
        if (destinations.Length == 1)
        {
            return destinations[0];
        }

        int first = random.Next(destinations.Length);
        int second = random.Next(destinations.Length - 1);
        if (second >= first)
        {
            second++;
        }

        long now = time.GetTimestamp();
        return Cost(first, now) <= Cost(second, now) ? destinations[first] : destinations[second];
    }

    private double Cost(int index, long now)
    {
        Destination destination = Destinations[index];
        int inFlight = destination.InFlight;
        double latency = destination.LatencyAt(now);
        double cost = latency == 0
            ? (inFlight == 0 ? 0 : UnmeasuredBusyCost * inFlight)
            : latency * (inFlight + 1);
        return cost / Weights[index];
    }
}
