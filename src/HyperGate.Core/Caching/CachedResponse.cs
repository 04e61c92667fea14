using System.Text;
using HyperGate.Http1;

namespace HyperGate.Caching;

/// <summary>
/// One stored response (a variant of its cache key): the head as the origin sent it minus what a cache must not
/// store or forward, the whole body, and what freshness and validation need (RFC 9111 §3, §4.2.3). Immutable: a
/// 304 stores a refreshed copy, so a hit always reads one response whole.
/// </summary>
public sealed class CachedResponse
{
    private static readonly byte[] Ok = "OK"u8.ToArray();

    private readonly (int Start, int Length) _etag = (0, -1);
    private readonly (int Start, int Length) _lastModified = (0, -1);
    private long? _size;

    /// <param name="fieldBlock">The stored fields as "Name: value\r\n" lines (see <see cref="FieldLines"/>).</param>
    /// <param name="defaultTtl">The route's heuristic freshness, when it sets one (§4.2.2).</param>
    public CachedResponse(int status, ReadOnlySpan<byte> reasonPhrase, byte[] fieldBlock, byte[] body, CacheTimes times, TimeSpan? defaultTtl)
    {
        Status = status;
        ReasonPhrase = reasonPhrase.SequenceEqual(Ok) ? Ok : reasonPhrase.ToArray();
        FieldBlock = fieldBlock;
        Body = body;
        DefaultTtl = defaultTtl;
        CacheDirectives directives = CacheDirectives.None;
        int offset = 0;
        foreach (FieldLine line in new FieldLines(fieldBlock))
        {
            int valueStart = offset + line.Name.Length + 2;
            if (Ascii.EqualsIgnoreCase(line.Name, "etag"u8))
            {
                _etag = (valueStart, line.Value.Length);
            }
            else if (Ascii.EqualsIgnoreCase(line.Name, "last-modified"u8))
            {
                _lastModified = (valueStart, line.Value.Length);
            }
            else if (Ascii.EqualsIgnoreCase(line.Name, "cache-control"u8))
            {
                directives.Present = true;
                directives.Add(line.Value);
            }

            offset += line.Line.Length + 2;
        }

        Directives = directives;
        Times = times with { FreshnessLifetime = CachePolicy.FreshnessLifetime(directives, fieldBlock, status, times.ResponseTime, defaultTtl) };
    }

    /// <summary>The same head with its body, once the body has arrived: nothing is parsed again.</summary>
    private CachedResponse(CachedResponse head, byte[] body)
    {
        (Status, ReasonPhrase, FieldBlock, DefaultTtl, Directives, Times, _etag, _lastModified) =
            (head.Status, head.ReasonPhrase, head.FieldBlock, head.DefaultTtl, head.Directives, head.Times, head._etag, head._lastModified);
        (Vary, Tags, Consumer) = (head.Vary, head.Tags, head.Consumer);
        Body = body;
    }

    public TimeSpan? DefaultTtl { get; }

    public int Status { get; }

    public byte[] ReasonPhrase { get; }

    public byte[] Body { get; }

    /// <summary>The stored fields, "Name: value\r\n" each: written as they are on every hit.</summary>
    public byte[] FieldBlock { get; }

    public FieldLines Fields => new(FieldBlock);

    public CacheTimes Times { get; }

    public CacheDirectives Directives { get; }

    public bool HasETag => _etag.Length >= 0;

    public ReadOnlySpan<byte> ETag => HasETag ? FieldBlock.AsSpan(_etag.Start, _etag.Length) : default;

    public bool HasLastModified => _lastModified.Length >= 0;

    public ReadOnlySpan<byte> LastModified => HasLastModified ? FieldBlock.AsSpan(_lastModified.Start, _lastModified.Length) : default;

    /// <summary>The request fields the response varies on, with the request's values when it was stored (null: absent).</summary>
    public (byte[] Name, byte[]? Value)[] Vary { get; init; } = [];

    /// <summary>Surrogate-Key / Cache-Tag values, for purging by tag.</summary>
    public string[] Tags { get; init; } = [];

    /// <summary>The consumer the response was stored for when only they may reuse it; null when any caller may.</summary>
    public string? Consumer { get; init; }

    private const int ObjectHeader = 24;
    private const int ArrayHeader = 24;

    /// <summary>
    /// Bytes this response holds in memory, counted against <c>max_size</c>: the body, the fields, the key parts and
    /// tags, and every object's and array's header as the 64-bit runtime lays them out.
    /// </summary>
    public long Size => _size ??= ObjectHeader + 160 + ArrayHeader + Body.Length + ArrayHeader + FieldBlock.Length
        + (ReasonPhrase == Ok ? 0 : ArrayHeader + ReasonPhrase.Length)
        + (Vary.Length == 0 ? 0 : ArrayHeader + 16L * Vary.Length + Vary.Sum(v => ArrayHeader + v.Name.Length + (v.Value is null ? 0 : ArrayHeader + v.Value.Length)))
        + (Tags.Length == 0 ? 0 : ArrayHeader + 8L * Tags.Length + Tags.Sum(t => 22 + 2 * t.Length))
        + (Consumer is null ? 0 : 22 + 2 * Consumer.Length);

    /// <summary>Whether <paramref name="other"/> answers the same requests: the same consumer and the same Vary values (§4.1).</summary>
    public bool IsSameVariant(CachedResponse other) =>
        Consumer == other.Consumer && Vary.Length == other.Vary.Length && Vary.Zip(other.Vary).All(p =>
            Ascii.EqualsIgnoreCase(p.First.Name, p.Second.Name) && (p.First.Value is null) == (p.Second.Value is null) && (p.First.Value ?? []).AsSpan().SequenceEqual(p.Second.Value ?? []));

    /// <summary>A copy of this response's head with its body.</summary>
    public CachedResponse WithBody(byte[] body) => new(this, body);

    /// <summary>
    /// §3.2: a copy whose fields are the 304's where it has them (all but Content-Length: the stored body's length
    /// stands), and whose clock readings are the 304's.
    /// </summary>
    public CachedResponse Refreshed(byte[] updates, CacheTimes times)
    {
        var block = new MemoryStream(FieldBlock.Length + updates.Length);
        foreach (FieldLine line in Fields)
        {
            if (!Contains(updates, line.Name) || Ascii.EqualsIgnoreCase(line.Name, "content-length"u8))
            {
                block.Write(line.Line);
                block.Write("\r\n"u8);
            }
        }

        foreach (FieldLine line in new FieldLines(updates))
        {
            if (!Ascii.EqualsIgnoreCase(line.Name, "content-length"u8))
            {
                block.Write(line.Line);
                block.Write("\r\n"u8);
            }
        }

        return new CachedResponse(Status, ReasonPhrase, block.ToArray(), Body, times, DefaultTtl) { Vary = Vary, Tags = Tags, Consumer = Consumer };
    }

    private static bool Contains(ReadOnlySpan<byte> block, ReadOnlySpan<byte> name)
    {
        foreach (FieldLine line in new FieldLines(block))
        {
            if (Ascii.EqualsIgnoreCase(line.Name, name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The first value of a stored field, or empty.</summary>
    public ReadOnlySpan<byte> Field(ReadOnlySpan<byte> name)
    {
        foreach (FieldLine line in Fields)
        {
            if (Ascii.EqualsIgnoreCase(line.Name, name))
            {
                return line.Value;
            }
        }

        return default;
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
