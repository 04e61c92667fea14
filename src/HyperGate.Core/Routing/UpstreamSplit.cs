using HyperGate.Upstreams;
using HyperGate.Upstreams.Balancing;

namespace HyperGate.Routing;

/// <summary>A route's <c>split = { stable = 95, canary = 5 }</c>: each request goes to one upstream, drawn by share.</summary>
public sealed class UpstreamSplit(IReadOnlyList<(Upstream Upstream, int Share)> shares, Random random)
{
    private readonly Upstream[] _upstreams = [.. shares.Where(s => s.Share > 0).Select(s => s.Upstream)];
    private readonly WeightedDraw _draw = new([.. shares.Where(s => s.Share > 0).Select(s => s.Share)]);

    public IReadOnlyList<(Upstream Upstream, int Share)> Shares { get; } = shares;

    public Upstream Pick() => _upstreams[_draw.Next(random)];
}
