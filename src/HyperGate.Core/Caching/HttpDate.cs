using System.Buffers.Text;
using System.Globalization;
using HyperGate.Http1;
using System.Text;

namespace HyperGate.Caching;

/// <summary>HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must also accept.</summary>
public static class HttpDate
{
    private static readonly string[] Formats =
    [
        "ddd, dd MMM yyyy HH:mm:ss 'GMT'",   // IMF-fixdate
        "dddd, dd-MMM-yy HH:mm:ss 'GMT'",     // RFC 850
        "ddd MMM d HH:mm:ss yyyy",            // asctime, day padded with a space
    ];

    public static bool TryParse(ReadOnlySpan<byte> value, out DateTimeOffset date)
    {
        date = default;
        if (value.IsEmpty || value.Length > 64)
        {
            return false;
        }

        // IMF-fixdate, what every current sender generates, parsed straight from the bytes (every cache miss parses a Date).
        ReadOnlySpan<byte> fixdate = HttpCharacters.TrimWhitespace(value);
        if (fixdate.Length == 29 && Utf8Parser.TryParse(fixdate, out date, out int consumed, 'R') && consumed == 29)
        {
            return true;
        }

        Span<char> text = stackalloc char[value.Length];
        int length = Encoding.ASCII.GetChars(value, text);
        ReadOnlySpan<char> trimmed = text[..length].Trim();

        // asctime pads a one-digit day with a space ("Nov  6"): one space is what the format expects.
        Span<char> collapsed = stackalloc char[trimmed.Length];
        int written = 0;
        for (int i = 0; i < trimmed.Length; i++)
        {
            if (trimmed[i] == ' ' && written > 0 && collapsed[written - 1] == ' ')
            {
                continue;
            }

            collapsed[written++] = trimmed[i];
        }

        if (!DateTime.TryParseExact(collapsed[..written], Formats, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime parsed))
        {
            return false;
        }

        // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is the most recent past year with those digits.
        if (parsed > DateTime.UtcNow.AddYears(50))
        {
            parsed = parsed.AddYears(-100);
        }

        date = new DateTimeOffset(parsed, TimeSpan.Zero);
        return true;
    }

    /// <summary>IMF-fixdate, the form a sender generates.</summary>
    public static string Format(DateTimeOffset date) => date.UtcDateTime.ToString("R", CultureInfo.InvariantCulture);
}
