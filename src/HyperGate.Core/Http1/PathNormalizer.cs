
namespace HyperGate.Http1;

/// <summary>
/// Produces the one canonical spelling of a path that routing, policies and the upstream all see:
/// <list type="number">
/// <item>percent-encoded unreserved characters are decoded (<c>%61</c> → <c>a</c>), other escapes keep their
/// encoding with uppercase hex (RFC 3986 §6.2.2.1–2);</item>
/// <item>invalid escapes and an encoded NUL are rejected; an encoded <c>/</c> or <c>\</c> stays encoded (uppercase
/// hex), part of its segment, never a separator, and is reported: upstreams disagree on whether it separates segments,
/// so whether such a path may pass is the route's decision (<c>encoded_slashes</c>), made once it is known;</item>
/// <item>runs of <c>/</c> collapse to one, so <c>//admin</c> is <c>/admin</c>;</item>
/// <item>dot segments are removed (RFC 3986 §5.2.4), never climbing above the root.</item>
/// </list>
/// The output is never longer than the input.
/// </summary>
public static class PathNormalizer
{
    public static RejectionReason Normalize(ReadOnlySpan<byte> path, Span<byte> output, out int written, out bool hasEncodedSlash)
    {
        written = 0;
        hasEncodedSlash = false;
        if (path.IsEmpty)
        {
            output[0] = (byte)'/';
            written = 1;
            return RejectionReason.None;
        }

        int position = path[0] == '/' ? 1 : 0;
        output[written++] = (byte)'/';
        while (position <= path.Length)
        {
            int slash = path[position..].IndexOf((byte)'/');
            int end = slash < 0 ? path.Length : position + slash;
            int segmentStart = written;
            RejectionReason reason = DecodeSegment(path[position..end], output, ref written, ref hasEncodedSlash);
            if (reason != RejectionReason.None)
            {
                return reason;
            }

            ReadOnlySpan<byte> segment = output[segmentStart..written];
            bool isLast = slash < 0;
            if (segment.IsEmpty)
            {
                // An empty segment: either the end of a path with a trailing slash, or "//" collapsing to "/".
            }
            else if (segment.SequenceEqual("."u8))
            {
                written = segmentStart;
            }
            else if (segment.SequenceEqual(".."u8))
            {
                // Drop this segment and the one before it: output is "/a/b/.." → "/a/".
                written = segmentStart - 1;
                while (written > 0 && output[written - 1] != '/')
                {
                    written--;
                }

                if (written == 0)
                {
                    output[written++] = (byte)'/';
                }
            }
            else if (!isLast)
            {
                output[written++] = (byte)'/';
            }

            if (isLast)
            {
                break;
            }

            position = end + 1;
        }

        return RejectionReason.None;
    }

    private static RejectionReason DecodeSegment(ReadOnlySpan<byte> segment, Span<byte> output, ref int written, ref bool hasEncodedSlash)
    {
        int percent = segment.IndexOf((byte)'%');
        if (percent < 0)
        {
            segment.CopyTo(output[written..]);
            written += segment.Length;
            return RejectionReason.None;
        }

        for (int i = 0; i < segment.Length; i++)
        {
            byte b = segment[i];
            if (b != '%')
            {
                output[written++] = b;
                continue;
            }

            int high = i + 2 < segment.Length ? HttpCharacters.HexValue(segment[i + 1]) : -1;
            int low = high >= 0 ? HttpCharacters.HexValue(segment[i + 2]) : -1;
            if (low < 0)
            {
                return RejectionReason.InvalidPercentEncoding;
            }

            byte decoded = (byte)((high << 4) | low);
            if (decoded == 0)
            {
                return RejectionReason.EncodedNul;
            }

            hasEncodedSlash |= decoded is (byte)'/' or (byte)'\\';
            if (HttpCharacters.Unreserved.Contains(decoded))
            {
                output[written++] = decoded;
            }
            else
            {
                output[written++] = (byte)'%';
                output[written++] = (byte)"0123456789ABCDEF"[high];
                output[written++] = (byte)"0123456789ABCDEF"[low];
            }

            i += 2;
        }

        return RejectionReason.None;
    }
}
