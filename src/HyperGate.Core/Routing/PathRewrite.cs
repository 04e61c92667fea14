using System.Text;
using HyperGate.Http1;

namespace HyperGate.Routing;

/// <summary>
/// The upstream path of a route with <c>rewrite</c>: literal text and the route's path parameters
/// (<c>/v2/accounts/{id}</c>), compiled once against the route's template. Captures come from the normalized path,
/// so they are already valid path characters.
/// </summary>
public sealed class PathRewrite
{
    private readonly (byte[]? Literal, int Parameter)[] _parts;

    private PathRewrite((byte[]?, int)[] parts, string text)
    {
        _parts = parts;
        Text = text;
    }

    public string Text { get; }

    /// <summary>Compiles <paramref name="text"/>; null and a reason when it names a parameter the template lacks, or is not a path.</summary>
    public static PathRewrite? Compile(string text, PathTemplate template, out string? error)
    {
        error = null;
        if (!text.StartsWith('/') || text.Contains('?') || text.Contains('#'))
        {
            error = "must be a path starting with / (the query is forwarded as received)";
            return null;
        }

        var parts = new List<(byte[]?, int)>();
        int position = 0;
        while (position < text.Length)
        {
            int open = text.IndexOf('{', position);
            if (open < 0)
            {
                parts.Add((Encoding.ASCII.GetBytes(text[position..]), -1));
                break;
            }

            int close = text.IndexOf('}', open);
            if (close < 0)
            {
                error = "a { is not closed";
                return null;
            }

            if (open > position)
            {
                parts.Add((Encoding.ASCII.GetBytes(text[position..open]), -1));
            }

            string name = text[(open + 1)..close];
            if (name.StartsWith("path.", StringComparison.Ordinal))
            {
                name = name[5..];
            }

            int index = template.IndexOf(name);
            if (index < 0)
            {
                error = template.HasParameters
                    ? $"{{{name}}} is not a parameter of the route's path (it has {string.Join(", ", template.ParameterNames.Select(n => $"{{{n}}}"))})"
                    : $"{{{name}}} is not a parameter of the route's path, which has none";
                return null;
            }

            parts.Add((null, index));
            position = close + 1;
        }

        if (parts.Any(p => p.Item1 is { } literal && (literal.AsSpan().ContainsAnyExcept(HttpCharacters.RequestTarget) || literal.AsSpan().Contains((byte)'}'))))
        {
            error = "holds characters a path cannot";
            return null;
        }

        return new PathRewrite([.. parts], text);
    }

    public void Write(ref HeadWriter output, RequestHead request)
    {
        foreach ((byte[]? literal, int parameter) in _parts)
        {
            output.Write(literal ?? request.PathParameter(parameter));
        }
    }

    public override string ToString() => Text;
}
