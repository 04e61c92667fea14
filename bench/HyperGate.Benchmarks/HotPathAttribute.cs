namespace HyperGate.Benchmarks;

/// <summary>Marks a benchmark of the per-request path: `./build.sh bench --ci` fails if it allocates.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class HotPathAttribute : Attribute;
