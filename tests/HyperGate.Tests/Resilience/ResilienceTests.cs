using HyperGate.Http1;
using HyperGate.Resilience;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.Resilience;

public class RetryBudgetTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Retries_AreCappedAtTheShareOfRequests_PlusTheMinimum()
    {
        var budget = new RetryBudget(20, TimeSpan.FromSeconds(10), _time);
        for (int i = 0; i < 100; i++)
        {
            budget.RecordRequest();
        }

        // 20% of 100, plus the 3 any route may make.
        Assert.Equal(23, Enumerable.Range(0, 50).Count(_ => budget.TryAcquire()));
    }

    [Fact]
    public void AQuietRoute_CanStillRetryAFewTimes()
    {
        var budget = new RetryBudget(0, TimeSpan.FromSeconds(10), _time);
        Assert.Equal(RetryBudget.MinRetries, Enumerable.Range(0, 10).Count(_ => budget.TryAcquire()));
    }

    [Fact]
    public void OldRequestsAndRetries_LeaveTheWindow()
    {
        var budget = new RetryBudget(10, TimeSpan.FromSeconds(10), _time);
        for (int i = 0; i < 100; i++)
        {
            budget.RecordRequest();
        }

        Assert.Equal(13, Enumerable.Range(0, 20).Count(_ => budget.TryAcquire()));

        // Half a window later the counts are the previous bucket, still counted; a whole window later they are gone.
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(budget.TryAcquire());
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(RetryBudget.MinRetries, Enumerable.Range(0, 10).Count(_ => budget.TryAcquire()));
    }
}

public class CircuitBreakerTests
{
    private static readonly CircuitBreakerSettings Settings = new(0.5, 10, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), 2);
    private readonly FakeTimeProvider _time = new();

    private CircuitBreaker OpenBreaker()
    {
        var breaker = new CircuitBreaker(Settings, _time);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(breaker.TryEnter(out _));
            if (i % 2 == 1)
            {
                breaker.OnFailure(trial: false);
            }
            else
            {
                breaker.OnSuccess(trial: false);
            }
        }

        return breaker;
    }

    [Fact]
    public void BelowMinRequests_ItStaysClosed_WhateverTheRatio()
    {
        var breaker = new CircuitBreaker(Settings, _time);
        for (int i = 0; i < 9; i++)
        {
            breaker.OnFailure(trial: false);
        }

        Assert.Equal(CircuitState.Closed, breaker.State);
        breaker.OnFailure(trial: false);
        Assert.Equal(CircuitState.Open, breaker.State);
    }

    [Fact]
    public void AtTheFailureRatio_ItOpens_AndRefusesUntilOpenForHasPassed()
    {
        CircuitBreaker breaker = OpenBreaker();

        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.TryEnter(out _));
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(breaker.TryEnter(out _));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
    }

    [Fact]
    public void HalfOpen_LetsTheTrialsThrough_AndClosesWhenAllSucceed()
    {
        CircuitBreaker breaker = OpenBreaker();
        _time.Advance(TimeSpan.FromSeconds(30));

        Assert.True(breaker.TryEnter(out bool first) && first);
        Assert.True(breaker.TryEnter(out bool second) && second);
        Assert.False(breaker.TryEnter(out _));
        breaker.OnSuccess(trial: true);
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        breaker.OnSuccess(trial: true);

        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.True(breaker.TryEnter(out bool trial) && !trial);
    }

    [Fact]
    public void AFailedTrial_OpensItAgain_AndAnAbandonedOneFreesItsPlace()
    {
        CircuitBreaker breaker = OpenBreaker();
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(breaker.TryEnter(out _));
        Assert.True(breaker.TryEnter(out _));
        breaker.AbandonTrial();
        Assert.True(breaker.TryEnter(out _));

        breaker.OnFailure(trial: true);

        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.TryEnter(out _));
    }

    [Fact]
    public void FailuresSpreadOverMoreThanAWindow_DoNotOpenIt()
    {
        var breaker = new CircuitBreaker(Settings, _time);
        for (int i = 0; i < 30; i++)
        {
            breaker.OnFailure(trial: false);
            if (breaker.State == CircuitState.Open)
            {
                break;
            }
        }

        Assert.Equal(CircuitState.Open, breaker.State);

        var slow = new CircuitBreaker(Settings, _time);
        for (int i = 0; i < 30; i++)
        {
            slow.OnFailure(trial: false);
            _time.Advance(TimeSpan.FromSeconds(2));
        }

        // Only the failures of the last 5–10 s count: never 10 of them.
        Assert.Equal(CircuitState.Closed, slow.State);
    }
}

public class RetryPolicyTests
{
    private static RetryPolicy Policy(bool nonIdempotent = false) =>
        new(2, RetryOn.Reset, [502, 503], nonIdempotent, TimeSpan.FromMilliseconds(25), TimeSpan.FromMilliseconds(100), new RetryBudget(20, TimeSpan.FromSeconds(10), TimeProvider.System));

    [Theory]
    [InlineData(HttpMethod.Get, true)]
    [InlineData(HttpMethod.Put, true)]
    [InlineData(HttpMethod.Delete, true)]
    [InlineData(HttpMethod.Post, false)]
    [InlineData(HttpMethod.Patch, false)]
    public void OnlyIdempotentMethods_AreRetried_UnlessOptedIn(HttpMethod method, bool allowed)
    {
        Assert.Equal(allowed, Policy().Allows(method));
        Assert.True(Policy(nonIdempotent: true).Allows(method));
    }

    [Fact]
    public void Backoff_IsJitteredBelowAnExponentialCeiling()
    {
        RetryPolicy policy = Policy();
        var random = new Random(11);
        double[] first = [.. Enumerable.Range(0, 1000).Select(_ => policy.Backoff(1, random).TotalMilliseconds)];
        double[] third = [.. Enumerable.Range(0, 1000).Select(_ => policy.Backoff(3, random).TotalMilliseconds)];

        Assert.All(first, ms => Assert.InRange(ms, 0, 25));
        Assert.All(third, ms => Assert.InRange(ms, 0, 100));
        Assert.True(third.Max() > 75, "the third retry may wait up to 100 ms (25 × 4)");
        Assert.True(first.Distinct().Count() > 900, "waits are spread, not synchronized");
    }

    [Fact]
    public void Statuses_AreRetriedOnlyWhenListed()
    {
        Assert.True(Policy().RetriesStatus(503));
        Assert.False(Policy().RetriesStatus(500));
    }
}
