using System.Buffers;
using System.Text;

namespace HyperGate.Http1;

/// <summary>The line and header-field rules shared by the request and the response parsers.</summary>
internal static class HeadParser
{
    /// <summary>How many empty elements a list-valued field may carry (RFC 9110 §5.6.1: "a reasonable number").</summary>
    private const int MaxEmptyListElements = 16;

    public delegate ParseStatus ContiguousParser<THead>(ReadOnlySpan<byte> input, THead head, in HeadLimits limits, out int headLength, out RejectionReason reason);

    /// <summary>
    /// Runs a contiguous parser over a pipe buffer. The fast path parses the first segment in place; a head split
    /// across segments is copied (bounded by the head-size limit) into the head's own buffer first, so both paths
    /// run the same code. On success the head's buffer holds a private copy of the head bytes.
    /// </summary>
    public static ParseStatus TryParseSequence<THead>(
        in ReadOnlySequence<byte> buffer,
        THead head,
        in HeadLimits limits,
        ContiguousParser<THead> parse,
        out SequencePosition consumed,
        out SequencePosition examined,
        out RejectionReason reason)
        where THead : MessageHead
    {
        ParseStatus status;
        int headLength;
        if (buffer.IsSingleSegment)
        {
            ReadOnlySpan<byte> span = buffer.FirstSpan;

            // Limits are applied by slicing: nothing past the head-size limit is ever scanned.
            if (span.Length > limits.MaxHeadSize)
            {
                span = span[..limits.MaxHeadSize];
            }

            status = parse(span, head, limits, out headLength, out reason);
            if (status == ParseStatus.Complete)
            {
                head.CopyHead(span[..headLength]);
            }
        }
        else
        {
            int length = (int)Math.Min(buffer.Length, limits.MaxHeadSize);
            Span<byte> copy = head.EnsureBuffer(length)[..length];
            buffer.Slice(0, length).CopyTo(copy);
            status = parse(copy, head, limits, out headLength, out reason);
        }

        if (status == ParseStatus.Complete)
        {
            consumed = examined = buffer.GetPosition(headLength);
        }
        else
        {
            // Nothing consumed, everything examined: the pipe will not wake us until more bytes arrive.
            consumed = buffer.Start;
            examined = buffer.End;
        }

        return status;
    }

    /// <summary>
    /// Finds the next line starting at <paramref name="start"/>. Returns false when no LF is buffered yet.
    /// RFC 9112 §2.2: a bare LF (not preceded by CR) is rejected rather than tolerated.
    /// </summary>
    public static bool TryFindLine(ReadOnlySpan<byte> input, int start, out int lineLength, out bool bareLineFeed)
    {
        int lf = input[start..].IndexOf((byte)'\n');
        if (lf < 0)
        {
            lineLength = 0;
            bareLineFeed = false;
            return false;
        }

        bareLineFeed = lf == 0 || input[start + lf - 1] != '\r';
        lineLength = bareLineFeed ? 0 : lf - 1;
        return true;
    }

    /// <summary>Parses one field line (without its CRLF) at <paramref name="lineStart"/> and appends it to <paramref name="head"/>.</summary>
    public static RejectionReason ParseFieldLine(ReadOnlySpan<byte> input, int lineStart, int lineLength, MessageHead head, in HeadLimits limits)
    {
        ReadOnlySpan<byte> line = input.Slice(lineStart, lineLength);
        if (lineLength > limits.MaxHeaderLineLength)
        {
            return RejectionReason.HeaderFieldTooLarge;
        }

        // RFC 9112 §5.2: obs-fold (a line starting with SP or HTAB) is rejected.
        if (line[0] == ' ' || line[0] == '\t')
        {
            return RejectionReason.ObsoleteLineFolding;
        }

        // RFC 9112 §5.1: no whitespace between the field name and the colon; the name is a token.
        int colon = line.IndexOf((byte)':');
        if (colon <= 0 || !HttpCharacters.IsToken(line[..colon]))
        {
            return RejectionReason.InvalidHeaderName;
        }

        if (colon > limits.MaxHeaderNameLength)
        {
            return RejectionReason.HeaderFieldTooLarge;
        }

        ReadOnlySpan<byte> rawValue = line[(colon + 1)..];
        ReadOnlySpan<byte> value = HttpCharacters.TrimWhitespace(rawValue);

        // RFC 9110 §5.5: CR, LF, NUL and other controls (except HTAB) make the field invalid.
        if (!HttpCharacters.IsValidFieldValue(value))
        {
            return RejectionReason.InvalidHeaderValue;
        }

        if (head.HeaderCount >= limits.MaxHeaderCount)
        {
            return RejectionReason.TooManyHeaders;
        }

        int valueOffset = colon + 1;
        while (valueOffset < line.Length && (line[valueOffset] == ' ' || line[valueOffset] == '\t'))
        {
            valueOffset++;
        }

        ref HeaderField field = ref head.AddHeader();
        field.NameStart = lineStart;
        field.NameLength = colon;
        field.ValueStart = lineStart + valueOffset;
        field.ValueLength = value.Length;
        field.Known = KnownHeaders.Classify(line[..colon]);
        field.Dropped = false;
        return ApplyCommonHeader(ref field, value, head);
    }

    /// <summary>Interprets the fields whose meaning is the same in requests and responses.</summary>
    private static RejectionReason ApplyCommonHeader(ref HeaderField field, ReadOnlySpan<byte> value, MessageHead head)
    {
        switch (field.Known)
        {
            case KnownHeader.None:
                return RejectionReason.None;

            case KnownHeader.ContentLength:
                // RFC 9112 §6.3: a Content-Length that is not 1*DIGIT, or several that differ, is unrecoverable.
                field.Dropped = true;
                if (!TryParseContentLength(value, out long length))
                {
                    return RejectionReason.InvalidContentLength;
                }

                if (head.ContentLength >= 0 && head.ContentLength != length)
                {
                    return RejectionReason.ConflictingContentLength;
                }

                head.ContentLength = length;
                return RejectionReason.None;

            case KnownHeader.TransferEncoding:
                field.Dropped = true;
                return ApplyTransferEncoding(value, head);

            case KnownHeader.Connection:
                field.Dropped = true;
                ApplyConnectionOptions(value, head, head.HeaderCount - 1);
                return RejectionReason.None;

            case KnownHeader.Upgrade:
                field.Dropped = true;
                head.UpgradeIndex = head.HeaderCount - 1;
                return RejectionReason.None;

            case KnownHeader.KeepAlive or KnownHeader.ProxyConnection or KnownHeader.ProxyOther
                or KnownHeader.Te or KnownHeader.Trailer or KnownHeader.Http2Settings:
                // RFC 9110 §7.6.1: hop-by-hop fields are consumed here and never forwarded.
                field.Dropped = true;
                return RejectionReason.None;

            default:
                return RejectionReason.None;
        }
    }

    public static bool TryParseContentLength(ReadOnlySpan<byte> value, out long length)
    {
        length = 0;

        // 18 digits always fit in a long, so overflow is impossible below this bound.
        if (value.IsEmpty || value.Length > 18 || value.ContainsAnyExcept(HttpCharacters.Digits))
        {
            return false;
        }

        foreach (byte digit in value)
        {
            length = (length * 10) + (digit - '0');
        }

        return true;
    }

    /// <summary>
    /// RFC 9112 §6.1: Transfer-Encoding = #transfer-coding. Several fields make one list (RFC 9110 §5.3), and empty
    /// list elements (",chunked", "chunked, ") are ignored (RFC 9110 §5.6.1), up to a reasonable number. chunked
    /// may be applied once and must come last; what the list means as a whole is decided once the head is complete
    /// (<see cref="ValidateTransferEncoding"/>).
    /// </summary>
    private static RejectionReason ApplyTransferEncoding(ReadOnlySpan<byte> value, MessageHead head)
    {
        head.HasTransferEncoding = true;
        int emptyElements = 0;
        foreach (Range range in value.Split((byte)','))
        {
            ReadOnlySpan<byte> coding = HttpCharacters.TrimWhitespace(value[range]);
            if (coding.IsEmpty)
            {
                if (++emptyElements > MaxEmptyListElements)
                {
                    return RejectionReason.InvalidTransferEncoding;
                }

                continue;
            }

            // RFC 9112 §6.1: a sender MUST NOT apply chunked more than once, and it is the final coding.
            if (head.IsChunked)
            {
                return RejectionReason.InvalidTransferEncoding;
            }

            if (Ascii.EqualsIgnoreCase(coding, "chunked"u8))
            {
                head.IsChunked = true;
                continue;
            }

            // RFC 9110 §10.1.4: transfer-coding = token *( OWS ";" OWS transfer-parameter )
            int parameters = coding.IndexOf((byte)';');
            ReadOnlySpan<byte> name = HttpCharacters.TrimWhitespace(parameters < 0 ? coding : coding[..parameters]);
            if (!HttpCharacters.IsToken(name))
            {
                return RejectionReason.InvalidTransferEncoding;
            }

            // Any coding but chunked ends in a refusal, so naming it for the error costs nothing on a served request.
            head.UnsupportedCoding ??= Encoding.ASCII.GetString(name[..Math.Min(name.Length, 40)]);
        }

        return RejectionReason.None;
    }

    /// <summary>
    /// What a complete head's Transfer-Encoding list means. RFC 9112 §6.3: when chunked is not the final coding the
    /// length cannot be determined (400); RFC 9112 §6.1: other codings before it are valid HTTP that this gateway does
    /// not implement (501, naming the coding).
    /// </summary>
    public static RejectionReason ValidateTransferEncoding(MessageHead head) =>
        !head.HasTransferEncoding ? RejectionReason.None
        : !head.IsChunked ? RejectionReason.InvalidTransferEncoding
        : head.UnsupportedCoding is not null ? RejectionReason.UnsupportedTransferEncoding
        : RejectionReason.None;

    /// <summary>
    /// RFC 9112 §2.2: a line refused as malformed that has a CR in it is refused for its bare CR, the verdict it gets
    /// when its end has not arrived yet (<see cref="HasBareCarriageReturn"/>), so arrival timing does not change the
    /// answer. Called on the rejection path only, so a served head pays nothing for it.
    /// </summary>
    public static RejectionReason RefineMalformedLine(ReadOnlySpan<byte> line, RejectionReason reason) =>
        reason is RejectionReason.InvalidRequestLine or RejectionReason.InvalidMethod or RejectionReason.InvalidRequestTarget
            or RejectionReason.InvalidHost or RejectionReason.InvalidHeaderName or RejectionReason.InvalidHeaderValue
            or RejectionReason.ObsoleteLineFolding
        && line.Contains((byte)'\r')
            ? RejectionReason.BareCarriageReturn
            : reason;

    /// <summary>
    /// RFC 9112 §2.2: a CR must be followed by LF. In the unterminated rest of a head (no LF in it), any CR but a final
    /// one (whose LF may be on its way) is bare, so the head is refused as it arrives instead of waiting for a line end.
    /// </summary>
    public static bool HasBareCarriageReturn(ReadOnlySpan<byte> unterminated)
    {
        int cr = unterminated.IndexOf((byte)'\r');
        return cr >= 0 && cr < unterminated.Length - 1;
    }

    /// <summary>RFC 9110 §7.6.1: Connection options, comma separated, case-insensitive.</summary>
    private static void ApplyConnectionOptions(ReadOnlySpan<byte> value, MessageHead head, int index)
    {
        foreach (Range range in value.Split((byte)','))
        {
            ReadOnlySpan<byte> option = HttpCharacters.TrimWhitespace(value[range]);
            if (Ascii.EqualsIgnoreCase(option, "close"u8))
            {
                head.ConnectionClose = true;
            }
            else if (Ascii.EqualsIgnoreCase(option, "keep-alive"u8))
            {
                head.ConnectionKeepAlive = true;
            }
            else if (Ascii.EqualsIgnoreCase(option, "upgrade"u8))
            {
                head.ConnectionUpgrade = true;
            }
            else if (!option.IsEmpty)
            {
                head.ConnectionHeaderIndexWithCustomOptions = index;
            }
        }
    }

    /// <summary>
    /// RFC 9110 §7.6.1: the fields named as Connection options are hop-by-hop too. Runs only when a Connection
    /// header named something other than close/keep-alive/upgrade, which is rare.
    /// </summary>
    public static void DropFieldsNamedByConnection(ReadOnlySpan<byte> input, MessageHead head)
    {
        if (head.ConnectionHeaderIndexWithCustomOptions < 0)
        {
            return;
        }

        ref HeaderField connection = ref head.HeaderAt(head.ConnectionHeaderIndexWithCustomOptions);
        ReadOnlySpan<byte> options = input.Slice(connection.ValueStart, connection.ValueLength);
        for (int i = 0; i < head.HeaderCount; i++)
        {
            ref HeaderField field = ref head.HeaderAt(i);
            ReadOnlySpan<byte> name = input.Slice(field.NameStart, field.NameLength);
            foreach (Range range in options.Split((byte)','))
            {
                if (Ascii.EqualsIgnoreCase(HttpCharacters.TrimWhitespace(options[range]), name))
                {
                    field.Dropped = true;
                    break;
                }
            }
        }
    }

    /// <summary>Parses "HTTP/1.1" or "HTTP/1.0"; other well-formed versions give 505, anything else 400.</summary>
    public static RejectionReason ParseVersion(ReadOnlySpan<byte> version, out HttpVersion result)
    {
        result = HttpVersion.Http11;
        if (version.SequenceEqual("HTTP/1.1"u8))
        {
            return RejectionReason.None;
        }

        if (version.SequenceEqual("HTTP/1.0"u8))
        {
            result = HttpVersion.Http10;
            return RejectionReason.None;
        }

        // RFC 9112 §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT
        bool wellFormed = version.Length == 8 && version.StartsWith("HTTP/"u8)
            && char.IsAsciiDigit((char)version[5]) && version[6] == '.' && char.IsAsciiDigit((char)version[7]);
        return wellFormed ? RejectionReason.UnsupportedHttpVersion : RejectionReason.InvalidRequestLine;
    }
}
