namespace HyperGate.Upstreams.Balancing;

/// <summary>
/// The destination with the fewest in-flight requests per unit of weight. Ties go to the next destination in
/// turn (a rotating starting point), so an idle upstream is still spread evenly.
/// </summary>
public sealed class LeastRequestsBalancer(Destination[] destinations, int[] weights) : Balancer(destinations, weights)
{
    private int _start;

    public override Destination Pick(Forwarding.Exchange exchange)
    {
        Destination[] destinations = Destinations;
        int[] weights = Weights;
        int count = destinations.Length;
        int start = (int)((uint)Interlocked.Increment(ref _start) % (uint)count);
        int best = start;
        long bestLoad = destinations[start].InFlight + 1L;
        for (int step = 1; step < count; step++)
        {
            int i = start + step;
            if (i >= count)
            {
                i -= count;
            }

            // load_i / weight_i < load_best / weight_best, without division.
            long load = destinations[i].InFlight + 1L;
            if (load * weights[best] < bestLoad * weights[i])
            {
                best = i;
                bestLoad = load;
            }
        }

        return destinations[best];
    }
}
