using System.Numerics;
using HyperGate.Transforms;

namespace HyperGate.Transforms.Json;

public enum JsonRuleKind : byte
{
    Remove,
    Allow,
    Rename,
    Set,
}

/// <summary>A field's new value: raw JSON fixed at load (a number, true, false, a constant string), or a template rendered as a JSON string.</summary>
public sealed record JsonSetValue(byte[]? Json, Template? Template);

/// <summary>One rule: what to do with the fields its path names.</summary>
public sealed record JsonRule(JsonRuleKind Kind, JsonPointerPath Path, byte[]? NewName = null, JsonSetValue? Value = null);

/// <summary>
/// <c>request_body</c> / <c>response_body</c> = { rename, remove, allow, set }, compiled: at most 64 rules, each a bit,
/// so that matching a member against every rule that could still apply is a few mask operations per token.
/// </summary>
public sealed class JsonBodyTransform
{
    public const int MaxRules = 64;

    public JsonBodyTransform(IReadOnlyList<JsonRule> rules, long maxSize, bool failOnInvalid, bool failOnTooLarge = false)
    {
        FailOnTooLarge = failOnTooLarge;
        if (rules.Count > MaxRules)
        {
            throw new ArgumentException($"at most {MaxRules} rules", nameof(rules));
        }

        Rules = [.. rules];
        MaxSize = maxSize;
        FailOnInvalid = failOnInvalid;
        for (int i = 0; i < Rules.Length; i++)
        {
            ulong bit = 1UL << i;
            switch (Rules[i].Kind)
            {
                case JsonRuleKind.Remove:
                    RemoveMask |= bit;
                    break;
                case JsonRuleKind.Allow:
                    AllowMask |= bit;
                    break;
                case JsonRuleKind.Rename:
                    RenameMask |= bit;
                    break;
                case JsonRuleKind.Set:
                    SetMask |= bit;
                    break;
            }
        }

        AllRules = Rules.Length == MaxRules ? ulong.MaxValue : (1UL << Rules.Length) - 1;
    }

    public JsonRule[] Rules { get; }

    /// <summary>The largest body transformed (a larger request is refused with 413, a larger response passed through).</summary>
    public long MaxSize { get; }

    /// <summary>A response that is not valid JSON becomes a 502 (true) or goes to the client untouched (false).</summary>
    public bool FailOnInvalid { get; }

    /// <summary>A response longer than <see cref="MaxSize"/> becomes a 502 (true) or goes to the client untouched (false).</summary>
    public bool FailOnTooLarge { get; }

    internal ulong RemoveMask { get; }

    internal ulong AllowMask { get; }

    internal ulong RenameMask { get; }

    internal ulong SetMask { get; }

    internal ulong AllRules { get; }

    /// <summary>The first rule of <paramref name="mask"/>.</summary>
    internal JsonRule First(ulong mask) => Rules[BitOperations.TrailingZeroCount(mask)];
}
