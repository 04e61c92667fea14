namespace HyperGate.Upstreams.Balancing;

/// <summary>Draws an index at random in proportion to its weight (cumulative sums and a binary search).</summary>
public sealed class WeightedDraw
{
    private readonly long[] _cumulative;

    public WeightedDraw(IReadOnlyList<int> weights)
    {
        _cumulative = new long[weights.Count];
        long sum = 0;
        for (int i = 0; i < weights.Count; i++)
        {
            sum += weights[i];
            _cumulative[i] = sum;
        }
    }

    public int Next(Random random)
    {
        // The first index whose cumulative weight exceeds the draw.
        long draw = random.NextInt64(_cumulative[^1]);
        int index = Array.BinarySearch(_cumulative, draw + 1);
        return index >= 0 ? index : ~index;
    }
}
