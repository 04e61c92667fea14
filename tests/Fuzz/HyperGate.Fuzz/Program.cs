using SharpFuzz;

namespace HyperGate.Fuzz;

/// <summary>AFL++ entry point (via SharpFuzz): <c>HyperGate.Fuzz request|response|chunked</c>. See tests/Fuzz/README.md.</summary>
public static class Program
{
    public static void Main(string[] args)
    {
        string target = args.Length > 0 ? args[0] : "request";
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            FuzzTargets.Run(target, buffer.ToArray());
        });
    }
}
