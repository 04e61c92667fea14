namespace HyperGate.Http1;

/// <summary>A parsed upstream response head. Offsets point into <see cref="MessageHead.Raw"/>.</summary>
public sealed class ResponseHead : MessageHead
{
    public int StatusCode { get; internal set; }

    internal int ReasonStart { get; set; }

    internal int ReasonLength { get; set; }

    public ReadOnlySpan<byte> ReasonPhrase => Raw.Slice(ReasonStart, ReasonLength);

    /// <summary>RFC 9112 §6.3: how the body of this response is delimited, given the request method.</summary>
    public BodyFraming GetBodyFraming(HttpMethod requestMethod)
    {
        if (requestMethod == HttpMethod.Head || StatusCode < 200 || StatusCode == 204 || StatusCode == 304)
        {
            return BodyFraming.None;
        }

        if (IsChunked)
        {
            return BodyFraming.Chunked;
        }

        return ContentLength >= 0 ? BodyFraming.ContentLength : BodyFraming.UntilClose;
    }

    internal override void Reset()
    {
        base.Reset();
        StatusCode = 0;
        ReasonStart = ReasonLength = 0;
    }
}
