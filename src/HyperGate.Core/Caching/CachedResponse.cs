using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Caching;

/// <summary>A stored field line: name and value as received.</summary>
public sealed record StoredField(byte[] Name, byte[] Value);

/// <summary>
/// One stored response (a variant of its cache key): the head as the origin sent it minus what a cache must not
/// store or forward, the whole body, and what freshness and validation need (RFC 9111 §3, §4.2.3).
/// </summary>
public sealed class CachedResponse
{
    /// <summary><paramref name="defaultTtl"/>: the route's heuristic freshness, when it sets one (§4.2.2).</summary>
    public CachedResponse(int status, byte[] reasonPhrase, StoredField[] fields, byte[] body, CacheTimes times, TimeSpan? defaultTtl)
    {
        Status = status;
        ReasonPhrase = reasonPhrase;
        Body = body;
        DefaultTtl = defaultTtl;
        Update(fields, times);
    }

    public TimeSpan? DefaultTtl { get; }

    public int Status { get; }

    public byte[] ReasonPhrase { get; }

    public byte[] Body { get; }

    /// <summary>The stored fields (a 304 makes a refreshed copy, §3.2).</summary>
    public StoredField[] Fields { get; private set; } = [];

    /// <summary>The stored fields serialized once ("Name: value\r\n" each), written as they are on every hit.</summary>
    public byte[] FieldBlock { get; private set; } = [];

    public CacheTimes Times { get; private set; }

    public CacheDirectives Directives { get; private set; }

    public byte[]? ETag { get; private set; }

    public byte[]? LastModified { get; private set; }

    /// <summary>The request fields the response varies on, with the request's values when it was stored (null: absent).</summary>
    public (byte[] Name, byte[]? Value)[] Vary { get; init; } = [];

    /// <summary>Surrogate-Key / Cache-Tag values, for purging by tag.</summary>
    public string[] Tags { get; init; } = [];

    /// <summary>The consumer the response was stored for when only they may reuse it; null when any caller may.</summary>
    public string? Consumer { get; init; }

    /// <summary>
    /// Bytes this response holds in memory, counted against <c>max_size</c>: the body, the fields (kept twice: as
    /// pairs and serialized), the key parts and tags, and every object's and array's header as the 64-bit runtime
    /// lays them out. Taken when stored; a 304 that changes the fields a little does not move the store's count.
    /// </summary>
    public long Size => _size ??= Measure();

    private long? _size;

    private const int ObjectHeader = 24;
    private const int ArrayHeader = 24;

    private long Measure()
    {
        long size = 200 + ArrayHeader + ReasonPhrase.Length + ArrayHeader + Body.Length + ArrayHeader + FieldBlock.Length + ArrayHeader + 8L * Fields.Length;
        foreach (StoredField field in Fields)
        {
            size += ObjectHeader + 16 + ArrayHeader + field.Name.Length + ArrayHeader + field.Value.Length;
        }

        size += ArrayHeader + 16L * Vary.Length + Vary.Sum(v => ArrayHeader + v.Name.Length + (v.Value is null ? 0 : ArrayHeader + v.Value.Length));
        size += ArrayHeader + 8L * Tags.Length + Tags.Sum(t => 22 + 2 * t.Length);
        return size + (Consumer is null ? 0 : 22 + 2 * Consumer.Length);
    }

    /// <summary>A copy of this response (its head, times and key parts) with its body, once the body has arrived.</summary>
    public CachedResponse WithBody(byte[] body) => new(Status, ReasonPhrase, Fields, body, Times, DefaultTtl) { Vary = Vary, Tags = Tags, Consumer = Consumer };

    /// <summary>
    /// §3.2: a copy whose fields are the 304's where it has them (all but Content-Length: the stored body's length
    /// stands) and its clock readings the 304's. A copy, stored in place of this one, so that a hit reading this
    /// one meanwhile sees it whole.
    /// </summary>
    public CachedResponse Refreshed(StoredField[] updates, CacheTimes times)
    {
        updates = [.. updates.Where(f => !Ascii.EqualsIgnoreCase(f.Name, "content-length"u8))];
        var names = new HashSet<string>(updates.Select(f => Encoding.Latin1.GetString(f.Name)), StringComparer.OrdinalIgnoreCase);
        StoredField[] fields = [.. Fields.Where(f => !names.Contains(Encoding.Latin1.GetString(f.Name))), .. updates];
        return new CachedResponse(Status, ReasonPhrase, fields, Body, times, DefaultTtl) { Vary = Vary, Tags = Tags, Consumer = Consumer };
    }

    /// <summary>Takes the fields, and the clock readings with the freshness lifetime they give (§4.2.1); only while constructed.</summary>
    private void Update(StoredField[] fields, CacheTimes times)
    {
        Fields = fields;
        var block = new MemoryStream();
        byte[]? etag = null, lastModified = null;
        foreach (StoredField field in fields)
        {
            block.Write(field.Name);
            block.Write(": "u8);
            block.Write(field.Value);
            block.Write("\r\n"u8);
            if (Ascii.EqualsIgnoreCase(field.Name, "etag"u8))
            {
                etag = field.Value;
            }
            else if (Ascii.EqualsIgnoreCase(field.Name, "last-modified"u8))
            {
                lastModified = field.Value;
            }
        }

        FieldBlock = block.ToArray();
        ETag = etag;
        LastModified = lastModified;
        Directives = CacheDirectives.Parse(FindAll(fields, "cache-control"u8));
        Times = times with { FreshnessLifetime = CachePolicy.FreshnessLifetime(Directives, fields, Status, times.ResponseTime, DefaultTtl) };
    }

    /// <summary>The first value of a stored field, or empty.</summary>
    public ReadOnlySpan<byte> Field(ReadOnlySpan<byte> name)
    {
        foreach (StoredField field in Fields)
        {
            if (Ascii.EqualsIgnoreCase(field.Name, name))
            {
                return field.Value;
            }
        }

        return default;
    }

    public bool HasField(ReadOnlySpan<byte> name)
    {
        foreach (StoredField field in Fields)
        {
            if (Ascii.EqualsIgnoreCase(field.Name, name))
            {
                return true;
            }
        }

        return false;
    }

    private static byte[] FindAll(StoredField[] fields, ReadOnlySpan<byte> name)
    {
        var joined = new List<byte>();
        foreach (StoredField field in fields)
        {
            if (Ascii.EqualsIgnoreCase(field.Name, name))
            {
                if (joined.Count > 0)
                {
                    joined.Add((byte)',');
                }

                joined.AddRange(field.Value);
            }
        }

        return [.. joined];
    }
}

/// <summary>
/// The clock readings RFC 9111 §4.2.3 computes a response's age from, in Unix seconds: when the request was sent,
/// when the response arrived, the response's Date and Age values, and the freshness lifetime worked out when stored.
/// </summary>
public readonly record struct CacheTimes(long RequestTime, long ResponseTime, long DateValue, long AgeValue, long FreshnessLifetime)
{
    /// <summary>§4.2.3: corrected_initial_age + resident_time.</summary>
    public long CurrentAge(long now)
    {
        long apparentAge = Math.Max(0, ResponseTime - DateValue);
        long responseDelay = ResponseTime - RequestTime;
        long correctedAgeValue = AgeValue + responseDelay;
        long correctedInitialAge = Math.Max(apparentAge, correctedAgeValue);
        long residentTime = now - ResponseTime;
        return correctedInitialAge + residentTime;
    }
}
