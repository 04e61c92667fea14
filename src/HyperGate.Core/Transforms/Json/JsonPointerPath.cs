using System.Text;

namespace HyperGate.Transforms.Json;

/// <summary>
/// A JSON Pointer (RFC 6901) naming fields to transform, with <c>*</c> as a segment that matches any array element
/// (or any member): <c>/items/*/card_number</c>. Segments are unescaped (<c>~1</c> is '/', <c>~0</c> is '~') and
/// compared with member names as decoded text.
/// </summary>
public sealed class JsonPointerPath
{
    private JsonPointerPath(string text, byte[]?[] segments)
    {
        Text = text;
        Segments = segments;
    }

    public string Text { get; }

    /// <summary>Each segment's UTF-8 text; null for the wildcard.</summary>
    public byte[]?[] Segments { get; }

    public int Length => Segments.Length;

    public bool EndsWithWildcard => Segments[^1] is null;

    public static JsonPointerPath? Parse(string text, out string? error)
    {
        error = null;
        if (text.Length < 2 || text[0] != '/')
        {
            error = "must be a JSON Pointer naming a field, such as \"/user/name\" or \"/items/*/id\"";
            return null;
        }

        string[] parts = text[1..].Split('/');
        var segments = new byte[]?[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            string part = parts[i];
            if (part == "*")
            {
                continue;
            }

            // RFC 6901 §4: "~1" before "~0", and a '~' followed by anything else is invalid.
            for (int t = part.IndexOf('~'); t >= 0; t = part.IndexOf('~', t + 1))
            {
                if (t + 1 >= part.Length || part[t + 1] is not ('0' or '1'))
                {
                    error = "'~' must be followed by 0 or 1 (RFC 6901)";
                    return null;
                }
            }

            segments[i] = Encoding.UTF8.GetBytes(part.Replace("~1", "/").Replace("~0", "~"));
        }

        return new JsonPointerPath(text, segments);
    }

    /// <summary>The path with its last segment removed: where a field would be renamed or added.</summary>
    public bool SameParentAs(JsonPointerPath other) =>
        other.Length == Length && Segments.Take(Length - 1).Zip(other.Segments.Take(Length - 1)).All(p => p.First is null ? p.Second is null : p.Second is not null && p.First.AsSpan().SequenceEqual(p.Second));

    public override string ToString() => Text;
}
