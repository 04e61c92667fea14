namespace HyperGate.Upstreams.Balancing;

/// <summary>
/// Weighted round robin that interleaves: with weights 5, 1, 1 the order is a a b a c a a, not a a a a a b c.
/// The order of one full cycle is computed when the balancer is built (the smooth weighted round robin of
/// nginx: each step every destination gains its weight, the richest is picked and pays the total); a pick is
/// then one shared counter increment.
/// </summary>
public sealed class SmoothRoundRobinBalancer : Balancer
{
    /// <summary>Longer cycles are scaled down, keeping every destination's weight at least 1.</summary>
    private const int MaxCycle = 4096;

    private readonly int[] _cycle;
    private int _next;

    public SmoothRoundRobinBalancer(Destination[] destinations, int[] weights, Random random)
        : base(destinations, weights)
    {
        _cycle = Cycle(weights);

        // Gateways started together should not all begin with the same destination.
        _next = random.Next(_cycle.Length) - 1;
    }

    public override Destination Pick(Forwarding.Exchange exchange)
    {
        uint next = (uint)Interlocked.Increment(ref _next);
        return Destinations[_cycle[next % (uint)_cycle.Length]];
    }

    /// <summary>The indexes of one full cycle, in the smooth order.</summary>
    public static int[] Cycle(int[] weights)
    {
        int[] scaled = Reduce(weights);
        int total = scaled.Sum();
        var cycle = new int[total];
        var current = new int[scaled.Length];
        for (int step = 0; step < total; step++)
        {
            int best = 0;
            for (int i = 0; i < scaled.Length; i++)
            {
                current[i] += scaled[i];
                if (current[i] > current[best])
                {
                    best = i;
                }
            }

            current[best] -= total;
            cycle[step] = best;
        }

        return cycle;
    }

    private static int[] Reduce(int[] weights)
    {
        int gcd = weights.Aggregate(0, (a, b) => (int)System.Numerics.BigInteger.GreatestCommonDivisor(a, b));
        int[] reduced = [.. weights.Select(w => w / gcd)];
        long total = reduced.Sum(w => (long)w);
        return total <= MaxCycle
            ? reduced
            : [.. reduced.Select(w => Math.Max(1, (int)(w * (long)MaxCycle / total)))];
    }
}
