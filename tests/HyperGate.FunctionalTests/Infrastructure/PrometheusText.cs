using System.Globalization;
using System.Text.RegularExpressions;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>Reads samples out of a Prometheus text exposition.</summary>
public static partial class PrometheusText
{
    /// <summary>The value of the one sample of <paramref name="name"/> carrying every given label (others may be present); 0 when none.</summary>
    public static double Value(string exposition, string name, params (string Label, string Value)[] labels) =>
        Find(exposition, name, labels) ?? 0;

    /// <summary>As <see cref="Value"/>, but null when no such sample is exported.</summary>
    public static double? Find(string exposition, string name, params (string Label, string Value)[] labels)
    {
        double? found = null;
        foreach (Match sample in Sample().Matches(exposition))
        {
            if (sample.Groups["name"].Value != name)
            {
                continue;
            }

            var present = LabelPair().Matches(sample.Groups["labels"].Value).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
            if (labels.All(l => present.TryGetValue(l.Label, out string? v) && v == l.Value))
            {
                Assert.True(found is null, $"several samples of {name} match {string.Join(",", labels)}");
                found = double.Parse(sample.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return found;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex Sample();

    [GeneratedRegex("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex LabelPair();
}
