using HyperGate.Http1;

namespace HyperGate.Resilience;

/// <summary>The failures a route's <c>retries.on</c> names, besides statuses.</summary>
[Flags]
public enum RetryOn : byte
{
    None = 0,

    /// <summary>The connection was refused or timed out: nothing reached the destination.</summary>
    ConnectFailure = 1,

    /// <summary>The connection was reset or closed before the response head.</summary>
    Reset = 2,

    /// <summary>No response head within the response timeout.</summary>
    Timeout = 4,
}

/// <summary>
/// A route's <c>retries</c>: how many times, on which failures, with what back-off, within what budget. Only
/// requests safe to replay are retried: idempotent methods (unless <see cref="NonIdempotent"/> opts in), with no
/// body or a body not yet sent, and never once a response byte went downstream.
/// </summary>
public sealed class RetryPolicy(int attempts, RetryOn on, int[] statuses, bool nonIdempotent, TimeSpan backoff, TimeSpan maxBackoff, RetryBudget budget)
{
    /// <summary>Retries after the first try (so at most this plus one tries).</summary>
    public int Attempts { get; } = attempts;

    public RetryOn On { get; } = on;

    public bool NonIdempotent { get; } = nonIdempotent;

    public RetryBudget Budget { get; } = budget;

    public bool RetriesStatus(int status) => Array.IndexOf(statuses, status) >= 0;

    /// <summary>RFC 9110 §9.2.2: a request with one of these methods may be repeated without a different effect.</summary>
    public bool Allows(HttpMethod method) => NonIdempotent || method is HttpMethod.Get or HttpMethod.Head or HttpMethod.Options or HttpMethod.Put or HttpMethod.Delete or HttpMethod.Trace;

    /// <summary>The conditions, as <c>on</c> names them: "connect_failure, reset, 503".</summary>
    public override string ToString() => string.Join(", ", [
        .. Enum.GetValues<RetryOn>().Where(flag => flag != RetryOn.None && On.HasFlag(flag)).Select(flag => flag switch
        {
            RetryOn.ConnectFailure => "connect_failure",
            _ => flag.ToString().ToLowerInvariant(),
        }),
        .. statuses.Select(status => status.ToString(System.Globalization.CultureInfo.InvariantCulture))]);

    /// <summary>Exponential back-off with full jitter: a random wait up to base × 2^(retry-1), capped.</summary>
    public TimeSpan Backoff(int retry, Random random)
    {
        TimeSpan ceiling = backoff * Math.Pow(2, Math.Min(retry - 1, 20));
        return (ceiling > maxBackoff ? maxBackoff : ceiling) * random.NextDouble();
    }
}
