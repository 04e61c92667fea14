using System.Runtime.InteropServices;
using HyperGate.Buffers;
using HyperGate.Hosting;

namespace HyperGate.Cli;

/// <summary>
/// Measures managed bytes allocated per request in steady state, for <c>--stats-on-exit</c>. The baseline is taken
/// once warm-up traffic has passed (start-up, JIT and pool growth are not per-request costs); a timer polls the
/// request counter, so nothing is added to the request path. A load run whose warm-up is more than a few thousand
/// requests (every scenario's shape, say) marks its start with SIGUSR1 on Linux: the baseline is taken again then.
/// Blocks the buffer pool creates after the baseline (a larger load than the warm-up's) are counted, and also
/// reported on their own: they are kept for reuse.
/// </summary>
internal sealed class AllocationStats : IDisposable
{
    private const long WarmUpRequests = 10_000;
    private const int SIGUSR1 = 10; // on Linux x64 and arm64
    private readonly GatewayRuntime _runtime;
    private readonly Timer _timer;
    private readonly PosixSignalRegistration? _measureFromNow;
    private long _baselineRequests = -1;
    private long _baselineBytes;
    private long _baselinePoolBytes;

    public AllocationStats(GatewayRuntime runtime)
    {
        _runtime = runtime;
        _timer = new Timer(_ => TakeBaselineAfterWarmUp(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
        if (OperatingSystem.IsLinux())
        {
            _measureFromNow = PosixSignalRegistration.Create((PosixSignal)SIGUSR1, signal =>
            {
                // Handled: the signal's default action (ending the process) is not taken.
                signal.Cancel = true;
                TakeBaseline();
            });
        }
    }

    private void TakeBaselineAfterWarmUp()
    {
        if (Volatile.Read(ref _baselineRequests) < 0 && _runtime.RequestCount >= WarmUpRequests)
        {
            TakeBaseline();
        }
    }

    private void TakeBaseline()
    {
        lock (_timer)
        {
            _timer.Change(Timeout.Infinite, Timeout.Infinite);
            _baselineBytes = GC.GetTotalAllocatedBytes(precise: true);
            _baselinePoolBytes = RetainingBlockPool.CreatedBytes;
            long requests = _runtime.RequestCount;
            Volatile.Write(ref _baselineRequests, requests);
            Console.WriteLine($"stats: counting from request {requests}");
        }
    }

    public void Report()
    {
        _measureFromNow?.Dispose();
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

    public void Dispose()
    {
        _timer.Dispose();
        _measureFromNow?.Dispose();
    }
}
