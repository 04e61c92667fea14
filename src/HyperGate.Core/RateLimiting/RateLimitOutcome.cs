using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.RateLimiting;

/// <summary>
/// Applies a route's limits to one request and remembers the decisions, so that whichever response the
/// request gets (proxied, direct, or the 429 itself) carries the RateLimit fields of draft-ietf-httpapi-
/// ratelimit-headers. One instance per downstream connection, reset for each request: nothing is allocated.
/// </summary>
public sealed class RateLimitOutcome
{
    private RouteRateLimits? _limits;
    private RateLimitDecision[] _decisions = new RateLimitDecision[2];
    private int _count;
    private bool _denied;
    private long _ticksPerSecond = 1;

    public void Clear()
    {
        _limits = null;
        _count = 0;
        _denied = false;
    }

    /// <summary>
    /// Checks every limit in order; all must pass. When one refuses, the admissions already made by the limits
    /// before it are given back, so a refused request costs no quota anywhere.
    /// </summary>
    public RejectionReason Apply(RouteRateLimits limits, Exchange exchange, TrustedProxies proxies, long ticksPerSecond)
    {
        RateLimitPolicy[] policies = limits.Policies;
        _limits = limits;
        _ticksPerSecond = ticksPerSecond;
        if (_decisions.Length < policies.Length)
        {
            _decisions = new RateLimitDecision[policies.Length];
        }

        Span<byte> key = stackalloc byte[RateLimitPolicy.MaxKeyLength];
        for (int i = 0; i < policies.Length; i++)
        {
            RateLimitPolicy policy = policies[i];
            int length = policy.BuildKey(exchange, proxies, key);
            ref RateLimitDecision decision = ref _decisions[i];
            decision = default;
            bool allowed = policy.Limiter.TryAcquire(key[..length], ref decision);
            _count = i + 1;
            policy.Counters.Record(decision, allowed);
            if (!allowed)
            {
                for (int j = 0; j < i; j++)
                {
                    policies[j].Limiter.Refund(_decisions[j]);
                }

                _denied = true;
                return decision.StoreUnavailable ? RejectionReason.RateLimitUnavailable : RejectionReason.RateLimited;
            }
        }

        return RejectionReason.None;
    }

    /// <summary>RateLimit-Policy and RateLimit for the limits checked, and Retry-After when one refused.</summary>
    public void WriteFields(ref HeadWriter output)
    {
        if (_limits is null)
        {
            return;
        }

        if (_limits.PolicyField is { } policyField)
        {
            output.Write(policyField);
            bool first = true;
            for (int i = 0; i < _count; i++)
            {
                RateLimitPolicy policy = _limits.Policies[i];
                if (!policy.Headers)
                {
                    continue;
                }

                output.Write(first ? "RateLimit: "u8 : ", "u8);
                first = false;
                output.Write(policy.QuotedName);
                output.Write(";r="u8);
                GatewayResponses.WriteNumber(ref output, _decisions[i].Remaining);
                output.Write(";t="u8);
                GatewayResponses.WriteNumber(ref output, Seconds(_decisions[i].ResetTicks));
            }

            if (!first)
            {
                output.Write("\r\n"u8);
            }
        }

        if (_denied)
        {
            output.Write("Retry-After: "u8);
            GatewayResponses.WriteNumber(ref output, Math.Max(1, Seconds(_decisions[_count - 1].RetryAfterTicks)));
            output.Write("\r\n"u8);
        }
    }

    private long Seconds(long ticks) => ticks <= 0 ? 0 : (ticks + _ticksPerSecond - 1) / _ticksPerSecond;
}
