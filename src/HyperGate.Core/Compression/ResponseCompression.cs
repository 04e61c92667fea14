using System.IO.Compression;
using System.IO.Pipelines;
using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Compression;

/// <summary>
/// <c>compress = true | { ... }</c>: a response is compressed with the best coding the client accepts (brotli, then
/// gzip) when its type is listed, it is at least <see cref="MinSize"/> long (or of unknown length), and nothing
/// forbids it: an encoded body (Content-Encoding), <c>Cache-Control: no-transform</c> (RFC 9110 §7.7), a partial
/// response (206 or Content-Range: ranges count bytes of the unencoded body), HEAD, or an HTTP/1.0 client (which cannot
/// read the chunked framing a compressed stream needs). Every response that could be compressed says
/// <c>Vary: Accept-Encoding</c>, compressed or not, so that caches keep the variants apart.
/// </summary>
public sealed class ResponseCompression(IReadOnlyList<string> types, long minSize, CompressionLevel level, ContentCoding[] codings) : ResponseEncoding
{
    public static readonly string[] DefaultTypes = ["text/*", "application/json", "application/*+json", "application/javascript", "application/xml", "application/*+xml", "image/svg+xml"];

    private readonly byte[][] _exactTypes = [.. types.Where(t => !t.Contains('*')).Select(Encoding.ASCII.GetBytes)];
    private readonly byte[][] _typePrefixes = [.. types.Where(t => t.EndsWith("/*", StringComparison.Ordinal)).Select(t => Encoding.ASCII.GetBytes(t[..^1]))];
    private readonly (byte[] Prefix, byte[] Suffix)[] _suffixTypes = [.. types.Where(t => t.Contains("/*+", StringComparison.Ordinal))
        .Select(t => (Encoding.ASCII.GetBytes(t[..(t.IndexOf('/') + 1)]), Encoding.ASCII.GetBytes(t[t.IndexOf('+')..])))];

    public long MinSize { get; } = minSize;

    public CompressionLevel Level { get; } = level;

    public IReadOnlyList<ContentCoding> Codings => codings;

    public override EncodedBody? Start(Exchange exchange, ResponseHead response, PipeWriter output)
    {
        RequestHead request = exchange.Request;
        if (request.Method == HttpMethod.Head || response.StatusCode == 206 || !Compressible(response))
        {
            return null;
        }

        ContentCoding coding = request.Version == HttpVersion.Http11 && request.TryGetHeader("accept-encoding"u8, out ReadOnlySpan<byte> accepted)
            ? AcceptEncoding.Choose(accepted, codings)
            : ContentCoding.None;
        if (coding == ContentCoding.None)
        {
            exchange.AddResponseFields("Vary: Accept-Encoding\r\n"u8);
            return null;
        }

        exchange.WeakenETag(response);
        exchange.AddResponseFields(coding == ContentCoding.Brotli ? "Content-Encoding: br\r\nVary: Accept-Encoding\r\n"u8 : "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n"u8);
        return new CompressedBody(output, coding, Level);
    }

    /// <summary>Whether this response may be compressed for some client: its type, size and fields allow it.</summary>
    private bool Compressible(ResponseHead response)
    {
        if ((response.ContentLength >= 0 && response.ContentLength < MinSize)
            || response.TryGetHeader("content-encoding"u8, out _)
            || response.TryGetHeader("content-range"u8, out _)
            || !response.TryGetHeader("content-type"u8, out ReadOnlySpan<byte> type))
        {
            return false;
        }

        if (response.TryGetHeader("cache-control"u8, out ReadOnlySpan<byte> cacheControl) && ContainsToken(cacheControl, "no-transform"u8))
        {
            return false;
        }

        int semicolon = type.IndexOf((byte)';');
        return TypeListed((semicolon < 0 ? type : type[..semicolon]).Trim(" \t"u8));
    }

    private bool TypeListed(ReadOnlySpan<byte> type)
    {
        foreach (byte[] exact in _exactTypes)
        {
            if (Ascii.EqualsIgnoreCase(type, exact))
            {
                return true;
            }
        }

        foreach (byte[] prefix in _typePrefixes)
        {
            if (type.Length > prefix.Length && Ascii.EqualsIgnoreCase(type[..prefix.Length], prefix))
            {
                return true;
            }
        }

        foreach ((byte[] prefix, byte[] suffix) in _suffixTypes)
        {
            if (type.Length > prefix.Length + suffix.Length && Ascii.EqualsIgnoreCase(type[..prefix.Length], prefix) && Ascii.EqualsIgnoreCase(type[^suffix.Length..], suffix))
            {
                return true;
            }
        }

        return false;
    }

    private static bool ContainsToken(ReadOnlySpan<byte> list, ReadOnlySpan<byte> token)
    {
        foreach (Range range in list.Split((byte)','))
        {
            ReadOnlySpan<byte> member = list[range].Trim(" \t"u8);
            int equals = member.IndexOf((byte)'=');
            if (Ascii.EqualsIgnoreCase(equals < 0 ? member : member[..equals], token))
            {
                return true;
            }
        }

        return false;
    }
}
