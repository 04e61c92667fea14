using System.Text;
using HyperGate.Http1;

namespace HyperGate.Caching;

/// <summary>What a cache keeps of a response head: its fields, its clock readings and its tags.</summary>
internal static class StoredHead
{
    /// <summary>§4.2.3's clock readings for a response that arrived now.</summary>
    public static CacheTimes Times(long requestTime, ResponseHead response, long now)
    {
        long age = response.TryGetHeader("age"u8, out ReadOnlySpan<byte> ageValue) && CacheDirectives.TryParseDelta(HttpCharacters.TrimWhitespace(ageValue), out long parsed) ? parsed : 0;
        long date = response.TryGetHeader("date"u8, out ReadOnlySpan<byte> dateValue) && HttpDate.TryParse(dateValue, out DateTimeOffset at) ? at.ToUnixTimeSeconds() : now;
        return new CacheTimes(requestTime, now, date, age, 0);
    }

    /// <summary>
    /// What is stored of a response head (§3.1), as "Name: value\r\n" lines: every field the gateway forwards
    /// (hop-by-hop and framing fields are already dropped), less Age (recomputed on every hit) and the tag fields;
    /// a Date is added when the origin sent none (RFC 9110 §6.6.1).
    /// </summary>
    public static byte[] Fields(ResponseHead response, long now)
    {
        int length = 0;
        bool hasDate = false;
        foreach (ref readonly HeaderField field in response.Headers)
        {
            if (IsStored(response, field))
            {
                hasDate |= Ascii.EqualsIgnoreCase(response.NameOf(field), "date"u8);
                length += field.NameLength + 2 + field.ValueLength + 2;
            }
        }

        byte[] date = hasDate ? [] : Encoding.ASCII.GetBytes($"Date: {HttpDate.Format(DateTimeOffset.FromUnixTimeSeconds(now))}\r\n");
        var block = new byte[length + date.Length];
        int written = 0;
        foreach (ref readonly HeaderField field in response.Headers)
        {
            if (IsStored(response, field))
            {
                written += Write(block.AsSpan(written), response.NameOf(field), response.ValueOf(field));
            }
        }

        date.CopyTo(block.AsSpan(written));
        return block;
    }

    private static bool IsStored(ResponseHead response, in HeaderField field) =>
        !field.Dropped && !Ascii.EqualsIgnoreCase(response.NameOf(field), "age"u8) && !IsTag(response.NameOf(field));

    private static int Write(Span<byte> destination, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        name.CopyTo(destination);
        ": "u8.CopyTo(destination[name.Length..]);
        value.CopyTo(destination[(name.Length + 2)..]);
        "\r\n"u8.CopyTo(destination[(name.Length + 2 + value.Length)..]);
        return name.Length + 2 + value.Length + 2;
    }

    /// <summary>Surrogate-Key and Cache-Tag: space- (or comma-) separated tags a purge can name.</summary>
    public static string[] Tags(ResponseHead response)
    {
        List<string>? tags = null;
        foreach (ref readonly HeaderField field in response.Headers)
        {
            ReadOnlySpan<byte> name = response.NameOf(field);
            if (IsTag(name))
            {
                (tags ??= []).AddRange(Encoding.ASCII.GetString(response.ValueOf(field)).Split([' ', ','], StringSplitOptions.RemoveEmptyEntries));
            }
        }

        return tags is null ? [] : [.. tags];
    }

    /// <summary>Surrogate-Key and Cache-Tag are for this cache: stored as tags, never as fields, and not forwarded.</summary>
    public static bool IsTag(ReadOnlySpan<byte> name) => Ascii.EqualsIgnoreCase(name, "surrogate-key"u8) || Ascii.EqualsIgnoreCase(name, "cache-tag"u8);
}
