using System.Text;
namespace HyperGate.Http1;

/// <summary>A parsed request head. Offsets point into <see cref="MessageHead.Raw"/>.</summary>
public sealed class RequestHead : MessageHead
{
    private byte[] _normalizedPath = new byte[256];

    public HttpMethod Method { get; internal set; }

    /// <summary>Where the request line starts: after the empty lines RFC 9112 §2.2 lets a client send first.</summary>
    internal int MethodStart { get; set; }

    internal int MethodLength { get; set; }

    internal int TargetStart { get; set; }

    internal int TargetLength { get; set; }

    internal int PathStart { get; set; }

    internal int PathLength { get; set; }

    internal int QueryStart { get; set; }

    internal int QueryLength { get; set; }

    internal int HostStart { get; set; }

    internal int HostLength { get; set; }

    internal int HostFieldCount { get; set; }

    internal int NormalizedPathLength { get; private set; }

    /// <summary>True for "OPTIONS * HTTP/1.1" (RFC 9112 §3.2.4).</summary>
    public bool IsAsteriskForm { get; internal set; }

    public bool ExpectContinue { get; internal set; }

    /// <summary>True when the path has an encoded <c>/</c> or <c>\</c> (<c>%2F</c>, <c>%5C</c>), kept encoded in <see cref="NormalizedPath"/>.</summary>
    public bool HasEncodedSlash { get; private set; }

    /// <summary>The index of the traceparent field in <see cref="MessageHead.Headers"/>, or -1.</summary>
    public int TraceparentIndex { get; internal set; } = -1;

    public ReadOnlySpan<byte> MethodBytes => Raw.Slice(MethodStart, MethodLength);

    /// <summary>The request-target exactly as received.</summary>
    public ReadOnlySpan<byte> Target => Raw.Slice(TargetStart, TargetLength);

    /// <summary>The path as received, before normalization.</summary>
    public ReadOnlySpan<byte> RawPath => Raw.Slice(PathStart, PathLength);

    /// <summary>The query including its leading '?', or empty.</summary>
    public ReadOnlySpan<byte> Query => Raw.Slice(QueryStart, QueryLength);

    /// <summary>The authority the request is for: the absolute-form target's, else the Host header's.</summary>
    public ReadOnlySpan<byte> Host => Raw.Slice(HostStart, HostLength);

    /// <summary>The canonical path every routing decision uses (see <see cref="PathNormalizer"/>), once <see cref="NormalizePath"/> ran.</summary>
    public ReadOnlySpan<byte> NormalizedPath => _normalizedPath.AsSpan(0, NormalizedPathLength);

    /// <summary>The path parameters the matched route captured (ranges of <see cref="NormalizedPath"/>).</summary>
    public PathCaptures PathCaptures { get; } = new();

    /// <summary>The value of the path parameter captured <paramref name="index"/>th, or empty when there is none.</summary>
    public ReadOnlySpan<byte> PathParameter(int index)
    {
        if (index >= PathCaptures.Count)
        {
            return [];
        }

        (int start, int length) = PathCaptures[index];
        return NormalizedPath.Slice(start, length);
    }

    /// <summary>RFC 9112 §9.3: HTTP/1.1 defaults to persistent connections, HTTP/1.0 needs "keep-alive".</summary>
    public bool KeepAlive => Version == HttpVersion.Http11 ? !ConnectionClose : ConnectionKeepAlive && !ConnectionClose;

    public bool HasBody => IsChunked || ContentLength > 0;

    public BodyFraming BodyFraming =>
        IsChunked ? BodyFraming.Chunked : ContentLength > 0 ? BodyFraming.ContentLength : BodyFraming.None;

    /// <summary>Computes <see cref="NormalizedPath"/> from the raw path; fails on paths <see cref="PathNormalizer"/> rejects.</summary>
    public RejectionReason NormalizePath()
    {
        // The normalized form is never longer than the raw path plus a leading "/".
        int capacity = PathLength + 1;
        if (_normalizedPath.Length < capacity)
        {
            _normalizedPath = new byte[Math.Max(capacity, _normalizedPath.Length * 2)];
        }

        RejectionReason reason = PathNormalizer.Normalize(RawPath, _normalizedPath, out int length, out bool hasEncodedSlash);
        NormalizedPathLength = reason == RejectionReason.None ? length : 0;
        HasEncodedSlash = hasEncodedSlash;
        return reason;
    }

    /// <summary>The gateway answered the expectation itself (it read the body first): the upstream gets no Expect field.</summary>
    internal void DropExpectation()
    {
        ExpectContinue = false;
        for (int i = 0; i < HeaderCount; i++)
        {
            ref HeaderField field = ref HeaderAt(i);
            if (Ascii.EqualsIgnoreCase(NameOf(field), "expect"u8))
            {
                field.Dropped = true;
            }
        }
    }

    internal override void Reset()
    {
        base.Reset();
        Method = HttpMethod.Other;
        MethodStart = MethodLength = 0;
        TargetStart = TargetLength = PathStart = PathLength = QueryStart = QueryLength = 0;
        HostStart = HostLength = HostFieldCount = 0;
        NormalizedPathLength = 0;
        PathCaptures.Clear();
        HasEncodedSlash = false;
        IsAsteriskForm = false;
        ExpectContinue = false;
        TraceparentIndex = -1;
    }
}
