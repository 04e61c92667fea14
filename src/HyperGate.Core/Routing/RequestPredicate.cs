using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;
using HyperGate.Http1;

namespace HyperGate.Routing;

/// <summary>How a predicate tests a header field's or query parameter's value.</summary>
public enum ValueTest : byte
{
    /// <summary>Equal to the text, byte for byte.</summary>
    Equals,

    /// <summary>Present, with any value.</summary>
    Present,

    /// <summary>Not present at all.</summary>
    Absent,

    /// <summary>Present with a value the regular expression matches.</summary>
    Regex,
}

/// <summary>
/// A route predicate beyond the path and methods: a header field or a query parameter, tested for a value, presence,
/// absence or a regular expression. Regular expressions run with <see cref="RegexOptions.NonBacktracking"/>: linear
/// in the input whatever the pattern, so a client cannot make routing slow.
/// </summary>
public abstract class RequestPredicate
{
    /// <summary>Values longer than this are not matched by a regular expression (they fail it).</summary>
    private const int MaxRegexInput = 4096;

    protected RequestPredicate(string name, ValueTest test, string? text)
    {
        Name = name;
        Test = test;
        Text = text;
        NameBytes = Encoding.ASCII.GetBytes(name);
        ValueBytes = test == ValueTest.Equals ? Encoding.UTF8.GetBytes(text!) : [];
        Pattern = test == ValueTest.Regex ? new Regex(text!, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant) : null;
    }

    public string Name { get; }

    public ValueTest Test { get; }

    /// <summary>The value or the pattern, for Equals and Regex.</summary>
    public string? Text { get; }

    protected byte[] NameBytes { get; }

    private byte[] ValueBytes { get; }

    private Regex? Pattern { get; }

    public abstract bool Matches(RequestHead request);

    /// <summary>What two routes must share for this predicate to decide nothing between them (ambiguity check).</summary>
    public string Key => $"{Kind}:{Name.ToLowerInvariant()}:{Test}:{Text}";

    protected abstract string Kind { get; }

    public override string ToString() => Test switch
    {
        ValueTest.Equals => $"{Kind} {Name} = \"{Text}\"",
        ValueTest.Present => $"{Kind} {Name} present",
        ValueTest.Absent => $"{Kind} {Name} absent",
        _ => $"{Kind} {Name} matches /{Text}/",
    };

    /// <summary>Tests one value found (or not) for the name.</summary>
    protected bool TestValue(bool found, ReadOnlySpan<byte> value)
    {
        switch (Test)
        {
            case ValueTest.Present:
                return found;
            case ValueTest.Absent:
                return !found;
            case ValueTest.Equals:
                return found && value.SequenceEqual(ValueBytes);
        }

        if (!found || value.Length > MaxRegexInput)
        {
            return false;
        }

        // Field values and decoded query values are bytes; Latin-1 maps each to one char without allocating.
        char[]? rented = null;
        Span<char> chars = value.Length <= 256 ? stackalloc char[256] : (rented = ArrayPool<char>.Shared.Rent(value.Length));
        try
        {
            int length = Encoding.Latin1.GetChars(value, chars);
            return Pattern!.IsMatch(chars[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }
}

/// <summary>A header field predicate (names are case-insensitive; the first field of that name is tested).</summary>
public sealed class HeaderPredicate(string name, ValueTest test, string? text = null) : RequestPredicate(name, test, text)
{
    protected override string Kind => "header";

    public override bool Matches(RequestHead request)
    {
        bool found = request.TryGetHeader(NameBytes, out ReadOnlySpan<byte> value);
        return TestValue(found, value);
    }
}

/// <summary>A query parameter predicate: the first parameter of that name (exact case), its value percent-decoded.</summary>
public sealed class QueryPredicate(string name, ValueTest test, string? text = null) : RequestPredicate(name, test, text)
{
    protected override string Kind => "query";

    public override bool Matches(RequestHead request)
    {
        if (!QueryString.TryFind(request.Query, NameBytes, out ReadOnlySpan<byte> raw))
        {
            return TestValue(false, []);
        }

        if (Test is ValueTest.Present or ValueTest.Absent)
        {
            return TestValue(true, raw);
        }

        byte[]? rented = null;
        Span<byte> decoded = raw.Length <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(raw.Length));
        try
        {
            return TestValue(true, decoded[..QueryString.Decode(raw, decoded)]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
