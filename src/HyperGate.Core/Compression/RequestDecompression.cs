using System.Buffers;
using System.IO.Compression;
using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Compression;

/// <summary>
/// <c>compress = { request = { ... } }</c>: a request body sent with Content-Encoding gzip, x-gzip, deflate or br is
/// decompressed before the later body steps and the upstream see it, and forwarded without the field. A bomb is
/// stopped as it inflates: past <see cref="MaxSize"/> bytes, or past <see cref="MaxRatio"/> times its compressed size,
/// the request gets 413 and never reaches the upstream; data that does not inflate gets 400. Other codings pass as
/// they are (the upstream may refuse them with 415, RFC 9110 §15.5.16).
/// </summary>
public sealed class RequestDecompression(long maxSize, int maxRatio) : RequestBodyStep
{
    public override long MaxSize { get; } = maxSize;

    public int MaxRatio { get; } = maxRatio;

    public override StepResult OnRequestBody(Exchange exchange, ref byte[] body)
    {
        RequestHead request = exchange.Request;
        int fieldIndex = -1;
        ContentCoding coding = ContentCoding.None;
        bool deflate = false;
        for (int i = 0; i < request.HeaderCount; i++)
        {
            ref HeaderField field = ref request.HeaderAt(i);
            if (field.Dropped || !Ascii.EqualsIgnoreCase(request.NameOf(field), "content-encoding"u8))
            {
                continue;
            }

            ReadOnlySpan<byte> value = request.ValueOf(field).Trim(" \t"u8);
            deflate = Ascii.EqualsIgnoreCase(value, "deflate"u8);
            coding = Ascii.EqualsIgnoreCase(value, "gzip"u8) || Ascii.EqualsIgnoreCase(value, "x-gzip"u8) ? ContentCoding.Gzip
                : Ascii.EqualsIgnoreCase(value, "br"u8) ? ContentCoding.Brotli
                : ContentCoding.None;
            fieldIndex = coding != ContentCoding.None || deflate ? i : -1;
            break;
        }

        if (fieldIndex < 0)
        {
            return StepResult.Continue;
        }

        long limit = Math.Min(MaxSize, (long)body.Length * MaxRatio);
        using var compressed = new MemoryStream(body, writable: false);
        using Stream inflating = deflate ? new ZLibStream(compressed, CompressionMode.Decompress)
            : coding == ContentCoding.Brotli ? new BrotliStream(compressed, CompressionMode.Decompress)
            : new GZipStream(compressed, CompressionMode.Decompress);
        var inflated = new ArrayBufferWriter<byte>(Math.Max(1024, Math.Min(body.Length * 4, (int)Math.Min(limit, int.MaxValue))));
        try
        {
            while (true)
            {
                int read = inflating.Read(inflated.GetSpan(16 * 1024));
                if (read == 0)
                {
                    break;
                }

                inflated.Advance(read);
                if (inflated.WrittenCount > limit)
                {
                    return StepResult.Refuse(RejectionReason.BodyTooLarge);
                }
            }
        }
        catch (InvalidDataException)
        {
            return StepResult.Refuse(RejectionReason.InvalidContentEncoding);
        }

        request.HeaderAt(fieldIndex).Dropped = true;
        body = inflated.WrittenSpan.ToArray();
        return StepResult.Continue;
    }
}
