using System.Reflection;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace HyperGate.Benchmarks;

public static class Program
{
    /// <summary>
    /// Without --ci: BenchmarkDotNet's switcher (all benchmarks, or a --filter). With --ci: a short job of every
    /// benchmark, failing when a [HotPath] benchmark allocates. Allocation counts are deterministic, so the gate
    /// is fair on a noisy machine; times are reported but not gated.
    /// </summary>
    public static int Main(string[] args)
    {
        if (!args.Contains("--ci"))
        {
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
            return 0;
        }

        IConfig config = DefaultConfig.Instance
            .AddJob(Job.ShortRun.WithWarmupCount(2).WithIterationCount(3).WithLaunchCount(1))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);
        Summary summary = BenchmarkRunner.Run(typeof(Program).Assembly, config).Single();

        var failures = new List<string>();
        foreach (BenchmarkReport report in summary.Reports)
        {
            MethodInfo method = report.BenchmarkCase.Descriptor.WorkloadMethod;
            if (method.GetCustomAttribute<HotPathAttribute>() is null)
            {
                continue;
            }

            long? allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
            if (!report.Success || allocated is null)
            {
                failures.Add($"{report.BenchmarkCase.DisplayInfo}: did not run");
            }
            else if (allocated > 0)
            {
                failures.Add($"{report.BenchmarkCase.DisplayInfo}: allocates {allocated} B/op on the hot path");
            }
        }

        foreach (string failure in failures)
        {
            Console.Error.WriteLine($"FAIL {failure}");
        }

        Console.WriteLine(failures.Count == 0 ? "bench --ci: every hot-path benchmark allocates 0 B/op" : $"bench --ci: {failures.Count} failure(s)");
        return failures.Count == 0 ? 0 : 1;
    }
}
