using HyperGate.Upstreams;

namespace HyperGate.Routing;

/// <summary>A route's <c>split = { stable = 95, canary = 5 }</c>: each request goes to one upstream, drawn by share.</summary>
public sealed class UpstreamSplit
{
    private readonly Upstream[] _upstreams;
    private readonly long[] _cumulative;
    private readonly Random _random;

    public UpstreamSplit(IReadOnlyList<(Upstream Upstream, int Share)> shares, Random random)
    {
        var kept = shares.Where(s => s.Share > 0).ToList();
        _upstreams = [.. kept.Select(s => s.Upstream)];
        _cumulative = new long[kept.Count];
        long sum = 0;
        for (int i = 0; i < kept.Count; i++)
        {
            sum += kept[i].Share;
            _cumulative[i] = sum;
        }

        _random = random;
        Shares = shares;
    }

    public IReadOnlyList<(Upstream Upstream, int Share)> Shares { get; }

    public Upstream Pick()
    {
        long draw = _random.NextInt64(_cumulative[^1]);
        int index = Array.BinarySearch(_cumulative, draw + 1);
        return _upstreams[index >= 0 ? index : ~index];
    }
}
