using HyperGate.Fuzz;

namespace HyperGate.Tests.Fuzz;

/// <summary>Every seed and every input the fuzzer ever saved runs through the fuzz targets on each test run.</summary>
public class FuzzRegressionTests
{
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        string root = Path.Combine(AppContext.BaseDirectory, "fuzz");
        foreach (string file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order())
        {
            // Layout: fuzz/{corpus|regressions}/{target}/{input}
            string target = Path.GetFileName(Path.GetDirectoryName(file)!);
            data.Add(target, Path.GetRelativePath(root, file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void SavedInput_RunsThroughItsTarget_WithoutFinding(string target, string relativePath)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fuzz", relativePath));
        FuzzTargets.Run(target, input);
    }
}
