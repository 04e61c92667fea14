using System.Buffers;

namespace HyperGate.Http1;

/// <summary>
/// Parses an upstream's response head with the same strictness as requests: a response that could be read
/// two ways becomes a 502, and its connection is never reused.
/// </summary>
public static class ResponseHeadParser
{
    public static ParseStatus TryParse(
        in ReadOnlySequence<byte> buffer,
        ResponseHead head,
        in HeadLimits limits,
        out SequencePosition consumed,
        out SequencePosition examined,
        out RejectionReason reason) =>
        HeadParser.TryParseSequence(buffer, head, limits, TryParse, out consumed, out examined, out reason);

    public static ParseStatus TryParse(ReadOnlySpan<byte> input, ResponseHead head, in HeadLimits limits, out int headLength, out RejectionReason reason)
    {
        head.Reset();
        headLength = 0;
        reason = RejectionReason.None;
        int position = 0;
        bool statusLineDone = false;
        while (true)
        {
            if (!HeadParser.TryFindLine(input, position, out int lineLength, out bool bareLf))
            {
                if (input.Length >= limits.MaxHeadSize || HeadParser.HasBareCarriageReturn(input[position..]))
                {
                    reason = RejectionReason.UpstreamInvalidResponse;
                    return ParseStatus.Rejected;
                }

                return ParseStatus.Incomplete;
            }

            if (bareLf)
            {
                reason = RejectionReason.UpstreamInvalidResponse;
                return ParseStatus.Rejected;
            }

            if (!statusLineDone)
            {
                if (!TryParseStatusLine(input[..lineLength], head))
                {
                    reason = RejectionReason.UpstreamInvalidResponse;
                    return ParseStatus.Rejected;
                }

                statusLineDone = true;
            }
            else if (lineLength == 0)
            {
                headLength = position + 2;
                break;
            }
            else if (HeadParser.ParseFieldLine(input, position, lineLength, head, limits) != RejectionReason.None)
            {
                reason = RejectionReason.UpstreamInvalidResponse;
                return ParseStatus.Rejected;
            }

            position += lineLength + 2;
        }

        head.HeadLength = headLength;

        // RFC 9112 §6.3: Transfer-Encoding with Content-Length is how responses get split; refuse it, and any
        // coding but a single chunked (a gateway cannot re-frame what it cannot decode).
        if (head.HasTransferEncoding && (head.ContentLength >= 0 || HeadParser.ValidateTransferEncoding(head) != RejectionReason.None))
        {
            reason = RejectionReason.UpstreamInvalidResponse;
            return ParseStatus.Rejected;
        }

        HeadParser.DropFieldsNamedByConnection(input, head);
        return ParseStatus.Complete;
    }

    /// <summary>RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]</summary>
    private static bool TryParseStatusLine(ReadOnlySpan<byte> line, ResponseHead head)
    {
        if (line.Length < 12 || line[8] != ' ')
        {
            return false;
        }

        if (HeadParser.ParseVersion(line[..8], out HttpVersion version) != RejectionReason.None)
        {
            return false;
        }

        ReadOnlySpan<byte> code = line.Slice(9, 3);
        if (code.ContainsAnyExcept(HttpCharacters.Digits) || code[0] == '0')
        {
            return false;
        }

        // Some servers omit the SP when the reason phrase is empty; that is unambiguous, so it is accepted.
        if (line.Length > 12 && line[12] != ' ')
        {
            return false;
        }

        ReadOnlySpan<byte> reasonPhrase = line.Length > 13 ? line[13..] : default;
        if (!HttpCharacters.IsValidFieldValue(reasonPhrase))
        {
            return false;
        }

        head.Version = version;
        head.StatusCode = ((code[0] - '0') * 100) + ((code[1] - '0') * 10) + (code[2] - '0');
        head.ReasonStart = line.Length > 13 ? 13 : 0;
        head.ReasonLength = reasonPhrase.Length;
        return true;
    }
}
