namespace HyperGate.Resilience;

/// <summary>
/// Caps retries at a share of the requests, so that retries cannot multiply the load on an upstream that is
/// already failing: over a rolling window, retries may be at most <c>budget_percent</c> of the requests, plus
/// a few (<see cref="MinRetries"/>) so that a quiet route can still retry.
/// </summary>
public sealed class RetryBudget(double percent, TimeSpan window, TimeProvider time)
{
    public const int MinRetries = 3;

    /// <summary>First: requests; second: retries.</summary>
    private readonly RollingCounts _counts = new(window, time);

    public double Percent { get; } = percent;

    public void RecordRequest() => _counts.Add(1, 0);

    /// <summary>Takes one retry out of the budget, or says there is none left.</summary>
    public bool TryAcquire()
    {
        (long requests, long retries) = _counts.Sum();
        if (retries + 1 > MinRetries + requests * Percent / 100)
        {
            return false;
        }

        _counts.Add(0, 1);
        return true;
    }
}
