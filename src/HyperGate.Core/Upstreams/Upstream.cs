namespace HyperGate.Upstreams;

/// <summary>A named set of destinations that routes forward to, with its timeouts and balancing.</summary>
public sealed class Upstream
{
    private int _next = -1;

    public Upstream(string name, Destination[] destinations, UpstreamSettings settings)
    {
        Name = name;
        Destinations = destinations;
        Settings = settings;
    }

    public string Name { get; }

    public Destination[] Destinations { get; }

    public UpstreamSettings Settings { get; }

    /// <summary>Round robin: a lock-free counter shared by all cores.</summary>
    public Destination? PickDestination()
    {
        Destination[] destinations = Destinations;
        if (destinations.Length == 0)
        {
            return null;
        }

        uint next = (uint)Interlocked.Increment(ref _next);
        return destinations[next % (uint)destinations.Length];
    }
}

/// <summary>Per-upstream timeouts and pool bounds, compiled from <c>[upstreams.NAME]</c>.</summary>
public sealed record UpstreamSettings(TimeSpan ConnectTimeout, TimeSpan ResponseTimeout, int MaxIdleConnections, TimeSpan IdleTimeout)
{
    public static UpstreamSettings Default { get; } = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60), 64, TimeSpan.FromSeconds(60));
}
