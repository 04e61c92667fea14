using HyperGate.Buffers;
using HyperGate.Hosting;

namespace HyperGate.Cli;

/// <summary>
/// Measures managed bytes allocated per request in steady state, for <c>--stats-on-exit</c>. The baseline is taken
/// once warm-up traffic has passed (start-up, JIT and pool growth are not per-request costs); a timer polls the
/// request counter, so nothing is added to the request path. Blocks the buffer pool creates after the baseline (a
/// larger load than the warm-up's) are counted, and also reported on their own: they are kept for reuse.
/// </summary>
internal sealed class AllocationStats : IDisposable
{
    private const long WarmUpRequests = 10_000;
    private readonly GatewayRuntime _runtime;
    private readonly Timer _timer;
    private long _baselineRequests = -1;
    private long _baselineBytes;
    private long _baselinePoolBytes;

    public AllocationStats(GatewayRuntime runtime)
    {
        _runtime = runtime;
        _timer = new Timer(_ => TakeBaseline(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
    }

    private void TakeBaseline()
    {
        long requests = _runtime.RequestCount;
        if (_baselineRequests < 0 && requests >= WarmUpRequests)
        {
            _baselineBytes = GC.GetTotalAllocatedBytes(precise: true);
            _baselinePoolBytes = RetainingBlockPool.CreatedBytes;
            _baselineRequests = requests;
            _timer.Change(Timeout.Infinite, Timeout.Infinite);
        }
    }

    public void Report()
    {
        long requests = _runtime.RequestCount;
        if (_baselineRequests < 0)
        {
            Console.WriteLine($"stats: requests={requests} (fewer than {WarmUpRequests} warm-up requests; no steady-state figure)");
            return;
        }

        long measured = requests - _baselineRequests;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - _baselineBytes;
        long poolGrowth = RetainingBlockPool.CreatedBytes - _baselinePoolBytes;
        double perRequest = measured == 0 ? 0 : (double)allocated / measured;
        double withoutPoolGrowth = measured == 0 ? 0 : (double)(allocated - poolGrowth) / measured;
        Console.WriteLine($"stats: requests={requests} measured_requests={measured} allocated_bytes={allocated} bytes_per_request={perRequest:F3} "
            + $"block_pool_growth_bytes={poolGrowth} bytes_per_request_without_pool_growth={withoutPoolGrowth:F3}");
    }

    public void Dispose() => _timer.Dispose();
}
