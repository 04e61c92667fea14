using System.Text;

namespace HyperGate.Routing;

/// <summary>One segment of a route's path: literal text, a named parameter (<c>{id}</c>) or the rest of the path (<c>{*rest}</c>).</summary>
public readonly record struct TemplateSegment(TemplateSegmentKind Kind, string Text);

public enum TemplateSegmentKind : byte
{
    Literal,
    Parameter,
    CatchAll,
}

/// <summary>
/// A route path with named parameters: <c>/users/{id}</c> captures one whole segment, <c>/files/{*rest}</c> the rest of
/// the path (possibly empty), only as the last segment. A segment is either literal or one parameter: a trie node
/// branches on whole segments, so "user-{id}" would not be a trie any more.
/// </summary>
public sealed class PathTemplate
{
    /// <summary>Captures are kept in a fixed array per request.</summary>
    public const int MaxParameters = HyperGate.Http1.PathCaptures.Capacity;

    private PathTemplate(TemplateSegment[] segments)
    {
        Segments = segments;
        ParameterNames = [.. segments.Where(s => s.Kind != TemplateSegmentKind.Literal).Select(s => s.Text)];
    }

    /// <summary>The segments after the leading slash; none for "/".</summary>
    public TemplateSegment[] Segments { get; }

    /// <summary>The parameters in the order their captures are made.</summary>
    public string[] ParameterNames { get; }

    public bool HasParameters => ParameterNames.Length > 0;

    public bool EndsWithCatchAll => Segments.Length > 0 && Segments[^1].Kind == TemplateSegmentKind.CatchAll;

    /// <summary>The index of a parameter's capture, or -1.</summary>
    public int IndexOf(string name) => Array.IndexOf(ParameterNames, name);

    /// <summary>Parses <paramref name="path"/>; null and a reason when it is not a valid template.</summary>
    public static PathTemplate? Parse(string path, out string? error)
    {
        error = null;
        var segments = new List<TemplateSegment>();
        if (path.Length > 1)
        {
            string[] parts = path[1..].Split('/');
            for (int i = 0; i < parts.Length; i++)
            {
                string part = parts[i];
                int open = part.IndexOf('{');
                int close = part.IndexOf('}');
                if (open < 0 && close < 0)
                {
                    segments.Add(new TemplateSegment(TemplateSegmentKind.Literal, part));
                    continue;
                }

                if (open != 0 || close != part.Length - 1 || part.IndexOf('{', 1) >= 0)
                {
                    error = $"segment \"{part}\" mixes text and a parameter";
                    return null;
                }

                bool catchAll = part.Length > 1 && part[1] == '*';
                string name = part[(catchAll ? 2 : 1)..^1];
                if (!IsName(name))
                {
                    error = $"\"{name}\" is not a parameter name (letters, digits and _, not starting with a digit)";
                    return null;
                }

                if (catchAll && i != parts.Length - 1)
                {
                    error = $"{{*{name}}} must be the last segment";
                    return null;
                }

                if (segments.Any(s => s.Kind != TemplateSegmentKind.Literal && s.Text == name))
                {
                    error = $"parameter \"{name}\" appears twice";
                    return null;
                }

                segments.Add(new TemplateSegment(catchAll ? TemplateSegmentKind.CatchAll : TemplateSegmentKind.Parameter, name));
            }
        }

        var template = new PathTemplate([.. segments]);
        if (template.ParameterNames.Length > MaxParameters)
        {
            error = $"at most {MaxParameters} parameters";
            return null;
        }

        return template;
    }

    /// <summary>The literal text of the path with each parameter as "{}": what two routes must share to compete.</summary>
    public string Shape => "/" + string.Join('/', Segments.Select(s => s.Kind switch
    {
        TemplateSegmentKind.Parameter => "{}",
        TemplateSegmentKind.CatchAll => "{*}",
        _ => s.Text,
    }));

    /// <summary>The length of a normalized path's first <paramref name="segments"/> segments, with their slashes: the part a prefix route of that many segments matched.</summary>
    public static int PrefixLength(ReadOnlySpan<byte> path, int segments)
    {
        int position = 0;
        for (int i = 0; i < segments && position < path.Length; i++)
        {
            int slash = path[(position + 1)..].IndexOf((byte)'/');
            position = slash < 0 ? path.Length : position + 1 + slash;
        }

        return position;
    }

    /// <summary>Whether <paramref name="path"/> (normalized) matches, whole or (<paramref name="asPrefix"/>) as a subtree; for explain, a cold path.</summary>
    public bool Matches(string path, bool asPrefix, StringComparison comparison)
    {
        string[] parts = path.Length > 1 ? path[1..].Split('/') : [];
        for (int i = 0; i < Segments.Length; i++)
        {
            TemplateSegment segment = Segments[i];
            if (segment.Kind == TemplateSegmentKind.CatchAll)
            {
                return true;
            }

            if (i >= parts.Length || (segment.Kind == TemplateSegmentKind.Literal ? !string.Equals(parts[i], segment.Text, comparison) : parts[i].Length == 0))
            {
                return false;
            }
        }

        return asPrefix || parts.Length == Segments.Length;
    }

    private static bool IsName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    public override string ToString() => "/" + string.Join('/', Segments.Select(s => s.Kind switch
    {
        TemplateSegmentKind.Parameter => $"{{{s.Text}}}",
        TemplateSegmentKind.CatchAll => $"{{*{s.Text}}}",
        _ => s.Text,
    }));

    /// <summary>The literal bytes of a segment, for the trie.</summary>
    internal static byte[] Bytes(TemplateSegment segment) => Encoding.ASCII.GetBytes(segment.Text);
}
