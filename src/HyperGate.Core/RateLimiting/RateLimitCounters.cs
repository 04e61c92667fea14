using System.Runtime.InteropServices;

namespace HyperGate.RateLimiting;

/// <summary>
/// Allowed, limited and unavailable (refused because a cluster store is down in "deny" mode) counts of one limit, striped by processor so that cores never write the same cache
/// line; reading sums the stripes.
/// </summary>
public sealed class RateLimitCounters
{
    private readonly Stripe[] _stripes = new Stripe[Environment.ProcessorCount];

    public long Allowed => Sum(static s => s.Allowed);

    public long Limited => Sum(static s => s.Limited);

    public long Unavailable => Sum(static s => s.Unavailable);

    public void Record(in RateLimitDecision decision, bool allowed)
    {
        ref Stripe stripe = ref _stripes[Thread.GetCurrentProcessorId() % _stripes.Length];
        Interlocked.Increment(ref allowed ? ref stripe.Allowed : ref decision.StoreUnavailable ? ref stripe.Unavailable : ref stripe.Limited);
    }

    private long Sum(Func<Stripe, long> field)
    {
        long total = 0;
        foreach (Stripe stripe in _stripes)
        {
            total += field(stripe);
        }

        return total;
    }

    // 128 bytes: two cache lines, so adjacent-line prefetching does not couple neighbouring stripes either.
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct Stripe
    {
        [FieldOffset(0)]
        public long Allowed;

        [FieldOffset(8)]
        public long Limited;

        [FieldOffset(16)]
        public long Unavailable;
    }
}
