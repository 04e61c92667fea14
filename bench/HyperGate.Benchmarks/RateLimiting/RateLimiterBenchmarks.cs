using System.Text;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using HyperGate.RateLimiting;

namespace HyperGate.Benchmarks.RateLimiting;

/// <summary>
/// One admission decision, on one hot key and spread over many keys, single- and multi-threaded, against
/// System.Threading.RateLimiting doing the same job (a token bucket, partitioned by key). The limits are far
/// above the offered rate, so every call admits: the cost of the check itself.
/// </summary>
[MemoryDiagnoser]
public class RateLimiterBenchmarks
{
    private const int KeyCount = 10_000;
    private const int ParallelOperations = 200_000;

    private readonly byte[] _hotKey = "203.0.113.7"u8.ToArray();
    private byte[][] _keys = null!;
    private string[] _keyStrings = null!;
    private LocalRateLimiter _limiter = null!;
    private TokenBucketRateLimiter _baseline = null!;
    private PartitionedRateLimiter<string> _partitioned = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var settings = LimitAlgorithmSettings.Create(RateLimitAlgorithm.TokenBucket, 1_000_000_000, TimeSpan.FromSeconds(1), 1_000_000_000, TimeProvider.System.TimestampFrequency, TimeProvider.System.GetTimestamp());
        _limiter = new LocalRateLimiter(settings, KeyCount * 2, TimeSpan.FromMinutes(1), TimeProvider.System);
        _keyStrings = [.. Enumerable.Range(0, KeyCount).Select(i => $"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")];
        _keys = [.. _keyStrings.Select(Encoding.ASCII.GetBytes)];

        var options = new TokenBucketRateLimiterOptions
        {
            TokenLimit = 1_000_000_000,
            TokensPerPeriod = 1_000_000_000,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
        _baseline = new TokenBucketRateLimiter(options);
        _partitioned = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => options));

        // Every key exists before measuring: the steady state, not first sight.
        foreach (int i in Enumerable.Range(0, KeyCount))
        {
            HyperGateManyKeys();
            BaselineManyKeys();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _limiter.Dispose();
        _baseline.Dispose();
        _partitioned.Dispose();
    }

    [Benchmark, HotPath]
    public bool HyperGateHotKey()
    {
        var decision = default(RateLimitDecision);
        return _limiter.TryAcquire(_hotKey, ref decision);
    }

    [Benchmark]
    public bool BaselineHotKey()
    {
        using RateLimitLease lease = _baseline.AttemptAcquire();
        return lease.IsAcquired;
    }

    [Benchmark, HotPath]
    public bool HyperGateManyKeys()
    {
        var decision = default(RateLimitDecision);
        return _limiter.TryAcquire(_keys[_next++ % KeyCount], ref decision);
    }

    [Benchmark]
    public bool BaselineManyKeys()
    {
        using RateLimitLease lease = _partitioned.AttemptAcquire(_keyStrings[_next++ % KeyCount]);
        return lease.IsAcquired;
    }

    [Benchmark(OperationsPerInvoke = ParallelOperations)]
    public void HyperGateHotKeyAllCores() => Parallel.For(0, Environment.ProcessorCount, _ =>
    {
        for (int i = 0; i < ParallelOperations / Environment.ProcessorCount; i++)
        {
            var decision = default(RateLimitDecision);
            _limiter.TryAcquire(_hotKey, ref decision);
        }
    });

    [Benchmark(OperationsPerInvoke = ParallelOperations)]
    public void BaselineHotKeyAllCores() => Parallel.For(0, Environment.ProcessorCount, _ =>
    {
        for (int i = 0; i < ParallelOperations / Environment.ProcessorCount; i++)
        {
            using RateLimitLease lease = _baseline.AttemptAcquire();
        }
    });

    [Benchmark(OperationsPerInvoke = ParallelOperations)]
    public void HyperGateManyKeysAllCores() => Parallel.For(0, Environment.ProcessorCount, core =>
    {
        for (int i = 0; i < ParallelOperations / Environment.ProcessorCount; i++)
        {
            var decision = default(RateLimitDecision);
            _limiter.TryAcquire(_keys[(i * 7 + core) % KeyCount], ref decision);
        }
    });

    [Benchmark(OperationsPerInvoke = ParallelOperations)]
    public void BaselineManyKeysAllCores() => Parallel.For(0, Environment.ProcessorCount, core =>
    {
        for (int i = 0; i < ParallelOperations / Environment.ProcessorCount; i++)
        {
            using RateLimitLease lease = _partitioned.AttemptAcquire(_keyStrings[(i * 7 + core) % KeyCount]);
        }
    });
}
