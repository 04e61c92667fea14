using System.Text;
using HyperGate.Http1;

namespace HyperGate.Caching;

/// <summary>What a cache keeps of a response head: its fields, its clock readings and its tags.</summary>
internal static class StoredHead
{
    /// <summary>§4.2.3's clock readings for a response that arrived now.</summary>
    public static CacheTimes Times(long requestTime, ResponseHead response, long now)
    {
        StoredField[] fields = Fields(response, now);
        long age = response.TryGetHeader("age"u8, out ReadOnlySpan<byte> ageValue) && CacheDirectives.TryParseDelta(HttpCharacters.TrimWhitespace(ageValue), out long parsed) ? parsed : 0;
        long date = CachePolicy.DateOf(fields, now);
        return new CacheTimes(requestTime, now, date, age, 0);
    }

    /// <summary>
    /// What is stored of a response head (§3.1): every field the gateway forwards (hop-by-hop and framing fields
    /// are already dropped), less Age (recomputed on every hit); a Date is added when the origin sent none
    /// (RFC 9110 §6.6.1).
    /// </summary>
    public static StoredField[] Fields(ResponseHead response, long now)
    {
        var fields = new List<StoredField>(response.HeaderCount + 1);
        bool hasDate = false;
        foreach (ref readonly HeaderField field in response.Headers)
        {
            ReadOnlySpan<byte> name = response.NameOf(field);
            if (field.Dropped || Ascii.EqualsIgnoreCase(name, "age"u8) || IsTag(name))
            {
                continue;
            }

            hasDate |= Ascii.EqualsIgnoreCase(name, "date"u8);
            fields.Add(new StoredField(name.ToArray(), response.ValueOf(field).ToArray()));
        }

        if (!hasDate)
        {
            fields.Add(new StoredField("Date"u8.ToArray(), Encoding.ASCII.GetBytes(HttpDate.Format(DateTimeOffset.FromUnixTimeSeconds(now)))));
        }

        return [.. fields];
    }

    /// <summary>Surrogate-Key and Cache-Tag: space- (or comma-) separated tags a purge can name.</summary>
    public static string[] Tags(ResponseHead response)
    {
        var tags = new List<string>();
        foreach (ref readonly HeaderField field in response.Headers)
        {
            ReadOnlySpan<byte> name = response.NameOf(field);
            if (IsTag(name))
            {
                tags.AddRange(Encoding.ASCII.GetString(response.ValueOf(field)).Split([' ', ','], StringSplitOptions.RemoveEmptyEntries));
            }
        }

        return [.. tags];
    }

    /// <summary>Surrogate-Key and Cache-Tag are for this cache: stored as tags, never as fields, and not forwarded.</summary>
    public static bool IsTag(ReadOnlySpan<byte> name) => Ascii.EqualsIgnoreCase(name, "surrogate-key"u8) || Ascii.EqualsIgnoreCase(name, "cache-tag"u8);
}
