using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace HyperGate.Http1;

/// <summary>
/// Copies a chunked body (RFC 9112 §7.1) from one pipe to another, validating every chunk line and trailer and
/// writing it back out in one canonical form: extensions dropped, sizes in lowercase hex, CRLF everywhere.
/// Data is streamed, never buffered whole. With <c>dechunk</c>, only the data is written (for an HTTP/1.0 client,
/// whose response is then delimited by closing the connection).
/// </summary>
public static class ChunkedBody
{
    /// <summary>Longest accepted chunk line including extensions: extensions carry nothing a gateway needs.</summary>
    public const int MaxChunkLineLength = 4096;

    /// <summary>Longest accepted trailer section.</summary>
    public const int MaxTrailerSize = 16 * 1024;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<BodyCopyResult> CopyAsync(PipeReader source, PipeWriter destination, long maxBodySize, bool dechunk, BodyRateGuard? guard, CancellationToken cancellationToken, IBodySink? sink = null)
    {
        long total = 0;
        while (true)
        {
            ReadResult result = await source.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (result.IsCanceled && guard is { TooSlow: true })
            {
                source.AdvanceTo(buffer.Start);
                return BodyCopyResult.SourceTooSlow;
            }

            ChunkLineStatus status = TryReadChunkLine(buffer, out long size, out SequencePosition afterLine);
            if (status == ChunkLineStatus.Incomplete)
            {
                source.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return BodyCopyResult.SourceTruncated;
                }

                continue;
            }

            if (status == ChunkLineStatus.Invalid)
            {
                source.AdvanceTo(buffer.Start);
                return BodyCopyResult.SourceInvalid;
            }

            source.AdvanceTo(afterLine);
            if (size == 0)
            {
                return await CopyTrailersAsync(source, dechunk ? null : destination, guard, cancellationToken, sink);
            }

            total += size;
            if (total > maxBodySize)
            {
                return BodyCopyResult.TooLarge;
            }

            if (!dechunk)
            {
                WriteChunkSize(destination, size);
            }

            BodyCopyResult copied = await BodyCopier.CopyExactAsync(source, destination, size, flushAtEnd: false, guard, cancellationToken, sink);
            if (copied != BodyCopyResult.Completed)
            {
                return copied;
            }

            // RFC 9112 §7.1: chunk-data is followed by exactly CRLF.
            BodyCopyResult crlf = await ExpectCrlfAsync(source, guard, cancellationToken);
            if (crlf != BodyCopyResult.Completed)
            {
                return crlf;
            }

            if (!dechunk)
            {
                destination.Write("\r\n"u8);
            }

            // Each chunk leaves as it arrives: chunked responses are often streams (server-sent events, progress).
            FlushResult flush = await destination.FlushAsync(cancellationToken);
            if (flush.IsCompleted)
            {
                return BodyCopyResult.DestinationClosed;
            }
        }
    }

    private static void WriteChunkSize(PipeWriter destination, long size)
    {
        Span<byte> span = destination.GetSpan(18);
        Utf8Formatter.TryFormat(size, span, out int written, new StandardFormat('x'));
        span[written++] = (byte)'\r';
        span[written++] = (byte)'\n';
        destination.Advance(written);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<BodyCopyResult> ExpectCrlfAsync(PipeReader source, BodyRateGuard? guard, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await source.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (result.IsCanceled && guard is { TooSlow: true })
            {
                source.AdvanceTo(buffer.Start);
                return BodyCopyResult.SourceTooSlow;
            }

            if (buffer.Length >= 2)
            {
                Span<byte> pair = stackalloc byte[2];
                buffer.Slice(0, 2).CopyTo(pair);
                source.AdvanceTo(buffer.GetPosition(2));
                return pair[0] == '\r' && pair[1] == '\n' ? BodyCopyResult.Completed : BodyCopyResult.SourceInvalid;
            }

            source.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return BodyCopyResult.SourceTruncated;
            }
        }
    }

    /// <summary>RFC 9112 §7.1.2: the trailer section is field lines ended by an empty line; each is validated like a header.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<BodyCopyResult> CopyTrailersAsync(PipeReader source, PipeWriter? destination, BodyRateGuard? guard, CancellationToken cancellationToken, IBodySink? sink)
    {
        while (true)
        {
            ReadResult result = await source.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (result.IsCanceled && guard is { TooSlow: true })
            {
                source.AdvanceTo(buffer.Start);
                return BodyCopyResult.SourceTooSlow;
            }

            TrailerStatus status = TryCopyTrailers(buffer, destination, sink, out SequencePosition end);
            switch (status)
            {
                case TrailerStatus.Complete:
                    source.AdvanceTo(end);
                    return BodyCopyResult.Completed;
                case TrailerStatus.Invalid:
                    source.AdvanceTo(buffer.Start);
                    return BodyCopyResult.SourceInvalid;
            }

            source.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return BodyCopyResult.SourceTruncated;
            }
        }
    }

    private enum TrailerStatus
    {
        Incomplete,
        Complete,
        Invalid,
    }

    private static TrailerStatus TryCopyTrailers(in ReadOnlySequence<byte> buffer, PipeWriter? destination, IBodySink? sink, out SequencePosition end)
    {
        end = buffer.Start;
        int length = (int)Math.Min(buffer.Length, MaxTrailerSize);
        byte[]? rented = null;
        Span<byte> section = length <= 512 ? stackalloc byte[length] : (rented = ArrayPool<byte>.Shared.Rent(length)).AsSpan(0, length);
        try
        {
            buffer.Slice(0, length).CopyTo(section);
            int position = 0;
            while (true)
            {
                if (!HeadParser.TryFindLine(section, position, out int lineLength, out bool bareLf))
                {
                    return length >= MaxTrailerSize || HeadParser.HasBareCarriageReturn(section[position..])
                        ? TrailerStatus.Invalid
                        : TrailerStatus.Incomplete;
                }

                if (bareLf)
                {
                    return TrailerStatus.Invalid;
                }

                if (lineLength == 0)
                {
                    position += 2;
                    break;
                }

                ReadOnlySpan<byte> line = section.Slice(position, lineLength);
                int colon = line.IndexOf((byte)':');
                if (line[0] == ' ' || line[0] == '\t' || colon <= 0 || !HttpCharacters.IsToken(line[..colon])
                    || !HttpCharacters.IsValidFieldValue(line[(colon + 1)..]))
                {
                    return TrailerStatus.Invalid;
                }

                position += lineLength + 2;
            }

            // Only a complete, valid section is written, so an invalid one never reaches the other side.
            if (destination is not null)
            {
                destination.Write("0\r\n"u8);
                WriteForwardableTrailers(section[..position], destination);
            }

            sink?.Trailers(section[..(position - 2)]);

            end = buffer.GetPosition(position);
            return TrailerStatus.Complete;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>RFC 9110 §6.5.1: framing, routing and hop-by-hop fields are not allowed in trailers; they are dropped.</summary>
    private static void WriteForwardableTrailers(ReadOnlySpan<byte> section, PipeWriter destination)
    {
        int position = 0;
        while (HeadParser.TryFindLine(section, position, out int lineLength, out _) && lineLength > 0)
        {
            ReadOnlySpan<byte> line = section.Slice(position, lineLength + 2);
            if (KnownHeaders.Classify(line[..line.IndexOf((byte)':')]) == KnownHeader.None)
            {
                destination.Write(line);
            }

            position += lineLength + 2;
        }

        destination.Write("\r\n"u8);
    }

    private enum ChunkLineStatus
    {
        Incomplete,
        Complete,
        Invalid,
    }

    /// <summary>RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF; chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )</summary>
    private static ChunkLineStatus TryReadChunkLine(in ReadOnlySequence<byte> buffer, out long size, out SequencePosition afterLine)
    {
        size = 0;
        afterLine = buffer.Start;
        ReadOnlySequence<byte> window = buffer.Length > MaxChunkLineLength ? buffer.Slice(0, MaxChunkLineLength) : buffer;
        SequencePosition? lf = window.PositionOf((byte)'\n');
        if (lf is null)
        {
            // A CR that is not the last byte buffered is bare (its LF cannot follow): refused as it arrives.
            SequencePosition? cr = window.PositionOf((byte)'\r');
            bool bareCr = cr is not null && window.Slice(cr.Value).Length > 1;
            return bareCr || buffer.Length > MaxChunkLineLength ? ChunkLineStatus.Invalid : ChunkLineStatus.Incomplete;
        }

        ReadOnlySequence<byte> lineWithCr = window.Slice(0, lf.Value);
        Span<byte> line = stackalloc byte[(int)lineWithCr.Length];
        lineWithCr.CopyTo(line);
        afterLine = window.GetPosition(1, lf.Value);

        // A bare LF, or a CR anywhere but right before the LF, is the CVE-2025-55315 desync pattern.
        if (line.IsEmpty || line[^1] != '\r')
        {
            return ChunkLineStatus.Invalid;
        }

        line = line[..^1];
        int digits = line.IndexOfAnyExcept(HttpCharacters.HexDigits);
        if (digits < 0)
        {
            digits = line.Length;
        }

        // 15 hex digits bound the size below 2^60: no overflow, and no real body is larger.
        if (digits == 0 || digits > 15)
        {
            return ChunkLineStatus.Invalid;
        }

        foreach (byte digit in line[..digits])
        {
            size = (size << 4) | (uint)HttpCharacters.HexValue(digit);
        }

        return IsValidExtensionList(line[digits..]) ? ChunkLineStatus.Complete : ChunkLineStatus.Invalid;
    }

    /// <summary>
    /// RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
    /// chunk-ext-name = token, chunk-ext-val = token / quoted-string. Anything else, including a bare CR or LF,
    /// is rejected rather than skipped.
    /// </summary>
    internal static bool IsValidExtensionList(ReadOnlySpan<byte> extensions)
    {
        // BWS comes only before ";" or "=": whitespace that ends the line ("a \r\n", "a;x \r\n") matches no rule.
        if (!extensions.IsEmpty && extensions[^1] is (byte)' ' or (byte)'\t')
        {
            return false;
        }

        int i = 0;
        while (true)
        {
            i = SkipWhitespace(extensions, i);
            if (i == extensions.Length)
            {
                return true;
            }

            if (extensions[i] != ';')
            {
                return false;
            }

            i = SkipWhitespace(extensions, i + 1);
            int nameLength = TokenLength(extensions[i..]);
            if (nameLength == 0)
            {
                return false;
            }

            i = SkipWhitespace(extensions, i + nameLength);
            if (i == extensions.Length || extensions[i] != '=')
            {
                continue;
            }

            i = SkipWhitespace(extensions, i + 1);
            int valueLength = i < extensions.Length && extensions[i] == '"'
                ? QuotedStringLength(extensions[i..])
                : TokenLength(extensions[i..]);
            if (valueLength == 0)
            {
                return false;
            }

            i += valueLength;
        }
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> text, int i)
    {
        while (i < text.Length && (text[i] == ' ' || text[i] == '\t'))
        {
            i++;
        }

        return i;
    }

    private static int TokenLength(ReadOnlySpan<byte> text)
    {
        int end = text.IndexOfAnyExcept(HttpCharacters.Token);
        return end < 0 ? text.Length : end;
    }

    /// <summary>RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE; 0 when malformed.</summary>
    private static int QuotedStringLength(ReadOnlySpan<byte> text)
    {
        for (int i = 1; i < text.Length; i++)
        {
            byte b = text[i];
            if (b == '"')
            {
                return i + 1;
            }

            if (b == '\\')
            {
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                i++;
                if (i == text.Length || (text[i] < 0x20 && text[i] != '\t') || text[i] == 0x7F)
                {
                    return 0;
                }
            }
            else if ((b < 0x20 && b != '\t') || b == 0x7F)
            {
                return 0;
            }
        }

        return 0;
    }
}
