namespace HyperGate.Resilience;

public enum CircuitState : byte
{
    Closed,
    Open,
    HalfOpen,
}

/// <summary>An upstream's <c>circuit_breaker</c>.</summary>
public sealed record CircuitBreakerSettings(double FailureRatio, int MinRequests, TimeSpan Window, TimeSpan OpenFor, int HalfOpenRequests)
{
    public static CircuitBreakerSettings Default { get; } = new(0.5, 20, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), 3);
}

/// <summary>
/// Stops sending to an upstream that is failing as a whole. Closed: requests pass and outcomes are counted over a
/// rolling window; when at least <c>min_requests</c> saw a failure ratio of <c>failure_ratio</c> or more, it
/// opens. Open: requests are refused at once (the route's fallback answers) for <c>open_for</c>. Half-open: up to
/// <c>half_open_requests</c> trial requests pass; all succeeding closes it, any failing opens it again.
/// Counting is lock-free; the rare state changes take a lock.
/// </summary>
public sealed class CircuitBreaker
{
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();

    /// <summary>First: requests; second: failures.</summary>
    private readonly RollingCounts _counts;
    private volatile CircuitState _state;
    private long _openUntil;
    private int _trialsStarted;
    private int _trialsSucceeded;

    public CircuitBreaker(CircuitBreakerSettings settings, TimeProvider time)
    {
        Settings = settings;
        _time = time;
        _counts = new RollingCounts(settings.Window, time);
    }

    public CircuitBreakerSettings Settings { get; }

    /// <summary>The state as of now (an open circuit whose time is up reads as half-open).</summary>
    public CircuitState State => _state == CircuitState.Open && _time.GetTimestamp() >= Volatile.Read(ref _openUntil) ? CircuitState.HalfOpen : _state;

    /// <summary>Whether a request may go to the upstream; <paramref name="trial"/> marks a half-open trial.</summary>
    public bool TryEnter(out bool trial)
    {
        trial = false;
        CircuitState state = _state;
        if (state == CircuitState.Closed)
        {
            return true;
        }

        lock (_gate)
        {
            if (_state == CircuitState.Open)
            {
                if (_time.GetTimestamp() < _openUntil)
                {
                    return false;
                }

                _state = CircuitState.HalfOpen;
                _trialsStarted = 0;
                _trialsSucceeded = 0;
            }

            if (_state == CircuitState.Closed)
            {
                return true;
            }

            if (_trialsStarted >= Settings.HalfOpenRequests)
            {
                return false;
            }

            _trialsStarted++;
            trial = true;
            return true;
        }
    }

    /// <summary>A trial that ended without an outcome (the client left): its place goes to another request.</summary>
    public void AbandonTrial()
    {
        lock (_gate)
        {
            if (_state == CircuitState.HalfOpen && _trialsStarted > 0)
            {
                _trialsStarted--;
            }
        }
    }

    public void OnSuccess(bool trial)
    {
        if (!trial)
        {
            Count(failed: false);
            return;
        }

        lock (_gate)
        {
            if (_state == CircuitState.HalfOpen && ++_trialsSucceeded >= Settings.HalfOpenRequests)
            {
                _state = CircuitState.Closed;
                _counts.Reset();
            }
        }
    }

    public void OnFailure(bool trial)
    {
        if (!trial)
        {
            Count(failed: true);
            return;
        }

        lock (_gate)
        {
            if (_state == CircuitState.HalfOpen)
            {
                Open(_time.GetTimestamp());
            }
        }
    }

    private void Count(bool failed)
    {
        _counts.Add(1, failed ? 1 : 0);
        if (!failed)
        {
            return;
        }

        (long requests, long failures) = _counts.Sum();
        if (requests >= Settings.MinRequests && failures >= Settings.FailureRatio * requests)
        {
            lock (_gate)
            {
                if (_state == CircuitState.Closed)
                {
                    Open(_time.GetTimestamp());
                }
            }
        }
    }

    private void Open(long now)
    {
        _state = CircuitState.Open;
        Volatile.Write(ref _openUntil, now + (long)(Settings.OpenFor.TotalSeconds * _time.TimestampFrequency));
        _counts.Reset();
    }
}
