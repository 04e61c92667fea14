using System.Text;

namespace HyperGate.Compression;

/// <summary>The content codings the gateway can apply (RFC 9110 §8.4.1), in the order it prefers them.</summary>
public enum ContentCoding : byte
{
    None,
    Brotli,
    Gzip,
}

/// <summary>Accept-Encoding negotiation (RFC 9110 §12.5.3).</summary>
public static class AcceptEncoding
{
    public static ReadOnlySpan<byte> Token(ContentCoding coding) => coding switch
    {
        ContentCoding.Brotli => "br"u8,
        ContentCoding.Gzip => "gzip"u8,
        _ => "identity"u8,
    };

    /// <summary>
    /// The coding to use among <paramref name="offered"/> (in the gateway's order of preference): the one with the
    /// highest q-value the client gives it, by name or through "*"; ties go to the gateway's preference; q=0 refuses.
    /// "x-gzip" is gzip (§8.4.1.3). No usable coding, or no field at all: <see cref="ContentCoding.None"/>.
    /// </summary>
    public static ContentCoding Choose(ReadOnlySpan<byte> field, ReadOnlySpan<ContentCoding> offered)
    {
        ContentCoding best = ContentCoding.None;
        int bestQ = 0;
        foreach (ContentCoding coding in offered)
        {
            int q = QualityOf(field, coding);
            if (q > bestQ)
            {
                best = coding;
                bestQ = q;
            }
        }

        return best;
    }

    /// <summary>The client's q-value for a coding, in thousandths: its own member, else "*", else 0.</summary>
    private static int QualityOf(ReadOnlySpan<byte> field, ContentCoding coding)
    {
        int named = -1;
        int wildcard = -1;
        foreach (Range range in field.Split((byte)','))
        {
            ReadOnlySpan<byte> member = field[range].Trim(" \t"u8);
            int semicolon = member.IndexOf((byte)';');
            ReadOnlySpan<byte> name = (semicolon < 0 ? member : member[..semicolon]).TrimEnd(" \t"u8);
            int q = semicolon < 0 ? 1000 : ParseQuality(member[(semicolon + 1)..]);
            if (Ascii.EqualsIgnoreCase(name, Token(coding)) || (coding == ContentCoding.Gzip && Ascii.EqualsIgnoreCase(name, "x-gzip"u8)))
            {
                named = Math.Max(named, q);
            }
            else if (name.SequenceEqual("*"u8))
            {
                wildcard = Math.Max(wildcard, q);
            }
        }

        return named >= 0 ? named : Math.Max(wildcard, 0);
    }

    /// <summary>
    /// RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; anything else
    /// counts as 0 (not acceptable).
    /// </summary>
    private static int ParseQValue(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty || value[0] is not ((byte)'0' or (byte)'1') || (value.Length > 1 && value[1] != '.') || value.Length > 5)
        {
            return 0;
        }

        int thousandths = value[0] == '1' ? 1000 : 0;
        int scale = 100;
        foreach (byte digit in value.Length > 2 ? value[2..] : [])
        {
            if (!char.IsAsciiDigit((char)digit) || (thousandths == 1000 && digit != '0'))
            {
                return 0;
            }

            thousandths += (digit - '0') * scale;
            scale /= 10;
        }

        return thousandths;
    }

    /// <summary>"q=0.5" (§12.4.2: weight = OWS ";" OWS "q=" qvalue), in thousandths; anything unreadable counts as 0.</summary>
    private static int ParseQuality(ReadOnlySpan<byte> parameters)
    {
        foreach (Range range in parameters.Split((byte)';'))
        {
            ReadOnlySpan<byte> parameter = parameters[range].Trim(" \t"u8);
            if (parameter.Length < 2 || (parameter[0] | 0x20) != 'q' || parameter[1] != '=')
            {
                continue;
            }

            return ParseQValue(parameter[2..]);
        }

        return 1000;
    }
}
