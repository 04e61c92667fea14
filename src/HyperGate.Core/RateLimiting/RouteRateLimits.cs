using System.Text;

namespace HyperGate.RateLimiting;

/// <summary>The limits of one route, in the order they are checked, with their RateLimit-Policy field pre-encoded.</summary>
public sealed class RouteRateLimits
{
    public RouteRateLimits(IReadOnlyList<RateLimitPolicy> policies)
    {
        Policies = [.. policies];
        RateLimitPolicy[] advertised = [.. Policies.Where(p => p.Headers)];
        if (advertised.Length > 0)
        {
            PolicyField = [.. "RateLimit-Policy: "u8, .. Encoding.ASCII.GetBytes(string.Join(", ", advertised.Select(p => Encoding.ASCII.GetString(p.PolicyItem)))), .. "\r\n"u8];
        }
    }

    public RateLimitPolicy[] Policies { get; }

    /// <summary>The whole <c>RateLimit-Policy</c> field line, or null when every limit has headers off.</summary>
    internal byte[]? PolicyField { get; }
}
