using Microsoft.Extensions.Logging;

namespace HyperGate.RateLimiting;

/// <summary>
/// Whether the quota store is reachable. The first failure of an outage is logged and starts a probe; the
/// first successful probe (or lease) ends the outage and is logged too, so an outage costs two log lines,
/// not one per request.
/// </summary>
internal sealed class StoreHealth : IDisposable
{
    private readonly IQuotaStore _store;
    private readonly ILogger _logger;
    private readonly ITimer _probe;
    private readonly TimeSpan _probeInterval;
    private int _down;
    private TaskCompletionSource _available = NewAvailable(completed: true);

    public StoreHealth(IQuotaStore store, ILogger logger, TimeProvider time, TimeSpan probeInterval)
    {
        _store = store;
        _logger = logger;
        _probeInterval = probeInterval;
        _probe = time.CreateTimer(static state => _ = ((StoreHealth)state!).ProbeAsync(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public bool IsUp => Volatile.Read(ref _down) == 0;

    /// <summary>Completes when the store is reachable (at once, unless an outage is going on).</summary>
    public Task Available => Volatile.Read(ref _available).Task;

    /// <summary>Outages seen since start.</summary>
    public int Outages { get; private set; }

    public void ReportFailure(Exception error)
    {
        if (Interlocked.Exchange(ref _down, 1) == 0)
        {
            Outages++;
            Volatile.Write(ref _available, NewAvailable(completed: false));
            _logger.LogWarning("rate limit store unavailable ({Error}); cluster limits use their on_store_failure mode until it is back", error.Message);
            _probe.Change(_probeInterval, Timeout.InfiniteTimeSpan);
        }
    }

    public void ReportSuccess()
    {
        if (Interlocked.Exchange(ref _down, 0) == 1)
        {
            _probe.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _logger.LogInformation("rate limit store reachable again; cluster limits are shared again");
            Volatile.Read(ref _available).TrySetResult();
        }
    }

    private async Task ProbeAsync()
    {
        try
        {
            await _store.PingAsync();
            ReportSuccess();
        }
        catch (Exception e)
        {
            _logger.LogDebug("rate limit store probe failed: {Error}", e.Message);
            _probe.Change(_probeInterval, Timeout.InfiniteTimeSpan);
        }
    }

    private static TaskCompletionSource NewAvailable(bool completed)
    {
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
        {
            source.SetResult();
        }

        return source;
    }

    public void Dispose() => _probe.Dispose();
}
