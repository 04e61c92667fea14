using System.Buffers;

namespace HyperGate.Http1;

/// <summary>Character classes of the HTTP/1.1 grammar, each as a vectorized <see cref="SearchValues{T}"/>.</summary>
internal static class HttpCharacters
{
    // RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    public static readonly SearchValues<byte> Token = SearchValues.Create(
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    // RFC 9110 §5.5: field-value bytes must not be CTLs other than HTAB (obs-text 0x80-0xFF is allowed).
    // This is the set of bytes that make a field value invalid: NUL..0x08, LF..0x1F (which covers CR and LF), DEL.
    public static readonly SearchValues<byte> InvalidFieldValue = SearchValues.Create(
    [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
        0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
        0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x7F,
    ]);

    // RFC 3986 §3.3 and §3.4: pchar = unreserved / pct-encoded / sub-delims / ":" / "@", plus "/" and "?".
    // A request-target in origin-form or absolute-form uses only these; "#" (fragment), spaces, controls,
    // backslash and non-ASCII bytes are rejected.
    public static readonly SearchValues<byte> RequestTarget = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%!$&'()*+,;=:@/?"u8);

    // RFC 3986 §2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
    public static readonly SearchValues<byte> Unreserved = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"u8);

    // RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ). Percent-encoding is refused in
    // Host because no upstream needs it and it would give one host several spellings.
    public static readonly SearchValues<byte> RegName = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;="u8);

    // RFC 3986 §3.2.2: the inside of an IP-literal ("[v6]"): hex digits, colons, and dots for an embedded IPv4.
    public static readonly SearchValues<byte> IPv6Literal = SearchValues.Create("0123456789ABCDEFabcdef:."u8);

    // RFC 9112 §7.1: chunk-size = 1*HEXDIG
    public static readonly SearchValues<byte> HexDigits = SearchValues.Create("0123456789ABCDEFabcdef"u8);

    public static readonly SearchValues<byte> Digits = SearchValues.Create("0123456789"u8);

    public static bool IsToken(ReadOnlySpan<byte> value) => !value.IsEmpty && !value.ContainsAnyExcept(Token);

    public static bool IsValidFieldValue(ReadOnlySpan<byte> value) => !value.ContainsAny(InvalidFieldValue);

    /// <summary>
    /// RFC 3986 §3.2: authority = host [ ":" port ] with host = IP-literal / reg-name (IPv4 is a reg-name here)
    /// and port = *DIGIT, at most 5 digits. User information ("user@") is not allowed in HTTP (RFC 9110 §4.2.4).
    /// </summary>
    public static bool IsValidAuthority(ReadOnlySpan<byte> authority)
    {
        ReadOnlySpan<byte> port;
        if (!authority.IsEmpty && authority[0] == '[')
        {
            int close = authority.IndexOf((byte)']');
            if (close < 3 || authority[1..close].ContainsAnyExcept(IPv6Literal))
            {
                return false;
            }

            port = authority[(close + 1)..];
            if (!port.IsEmpty && port[0] != ':')
            {
                return false;
            }
        }
        else
        {
            int colon = authority.IndexOf((byte)':');
            ReadOnlySpan<byte> host = colon < 0 ? authority : authority[..colon];
            if (host.IsEmpty || host.ContainsAnyExcept(RegName))
            {
                return false;
            }

            port = colon < 0 ? default : authority[colon..];
        }

        // Here port is empty or ":" followed by the digits.
        return port.IsEmpty || (port.Length <= 6 && !port[1..].ContainsAnyExcept(Digits));
    }

    /// <summary>RFC 9110 §5.6.3: OWS = *( SP / HTAB ).</summary>
    public static ReadOnlySpan<byte> TrimWhitespace(ReadOnlySpan<byte> value)
    {
        int start = 0;
        while (start < value.Length && (value[start] == ' ' || value[start] == '\t'))
        {
            start++;
        }

        int end = value.Length;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
        {
            end--;
        }

        return value[start..end];
    }

    public static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
