using System.Buffers;
using System.Text;

namespace HyperGate.Http1;

/// <summary>
/// Parses an HTTP/1.1 request head (RFC 9112 §2–§6) strictly. Anything ambiguous is rejected, never repaired.
/// The fast path works on one contiguous span; a head split across pipe segments is first copied into the
/// head's own buffer (bounded by the head-size limit), so both paths run the same code.
/// </summary>
public static class RequestHeadParser
{
    /// <summary>How many empty lines may come before a request line (RFC 9112 §2.2 asks for at least one).</summary>
    public const int MaxEmptyLinesBeforeRequest = 8;

    public static ParseStatus TryParse(
        in ReadOnlySequence<byte> buffer,
        RequestHead head,
        in HeadLimits limits,
        out SequencePosition consumed,
        out SequencePosition examined,
        out RejectionReason reason) =>
        HeadParser.TryParseSequence(buffer, head, limits, TryParse, out consumed, out examined, out reason);

    public static ParseStatus TryParse(ReadOnlySpan<byte> input, RequestHead head, in HeadLimits limits, out int headLength, out RejectionReason reason)
    {
        head.Reset();
        headLength = 0;

        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) received before the request line.
        // They are consumed with the head; more than a few are not a client's stray CRLF but noise, and refused.
        int requestLineStart = 0;
        while (input.Length - requestLineStart >= 2 && input[requestLineStart] == '\r' && input[requestLineStart + 1] == '\n')
        {
            if (requestLineStart == MaxEmptyLinesBeforeRequest * 2)
            {
                reason = RejectionReason.InvalidRequestLine;
                return ParseStatus.Rejected;
            }

            requestLineStart += 2;
        }

        if (!HeadParser.TryFindLine(input, requestLineStart, out int lineLength, out bool bareLf))
        {
            // RFC 9112 §3: a request line longer than the target limit allows is answered with 414.
            reason = HeadParser.HasBareCarriageReturn(input[requestLineStart..]) ? RejectionReason.BareCarriageReturn
                : input.Length - requestLineStart > limits.MaxRequestTargetLength + 32 ? RejectionReason.RequestTargetTooLong
                : input.Length >= limits.MaxHeadSize ? RejectionReason.HeadTooLarge
                : RejectionReason.None;
            return reason == RejectionReason.None ? ParseStatus.Incomplete : ParseStatus.Rejected;
        }

        reason = bareLf ? RejectionReason.BareLineFeed : ParseRequestLine(input.Slice(requestLineStart, lineLength), requestLineStart, head, limits);
        if (reason != RejectionReason.None)
        {
            reason = HeadParser.RefineMalformedLine(input.Slice(requestLineStart, lineLength), reason);
            return ParseStatus.Rejected;
        }

        int position = requestLineStart + lineLength + 2;
        while (true)
        {
            if (!HeadParser.TryFindLine(input, position, out lineLength, out bareLf))
            {
                reason = HeadParser.HasBareCarriageReturn(input[position..]) ? RejectionReason.BareCarriageReturn
                    : input.Length >= limits.MaxHeadSize ? RejectionReason.HeadTooLarge
                    : RejectionReason.None;
                return reason == RejectionReason.None ? ParseStatus.Incomplete : ParseStatus.Rejected;
            }

            if (bareLf)
            {
                reason = RejectionReason.BareLineFeed;
                return ParseStatus.Rejected;
            }

            if (lineLength == 0)
            {
                headLength = position + 2;
                break;
            }

            reason = HeadParser.ParseFieldLine(input, position, lineLength, head, limits);
            if (reason == RejectionReason.None)
            {
                reason = ApplyRequestHeader(input, head);
            }

            if (reason != RejectionReason.None)
            {
                reason = HeadParser.RefineMalformedLine(input.Slice(position, lineLength), reason);
                return ParseStatus.Rejected;
            }

            position += lineLength + 2;
        }

        head.HeadLength = headLength;
        reason = ValidateFraming(head);
        if (reason != RejectionReason.None)
        {
            return ParseStatus.Rejected;
        }

        HeadParser.DropFieldsNamedByConnection(input, head);
        return ParseStatus.Complete;
    }

    /// <summary>
    /// Whether an incomplete head already holds a whole request line (past the empty lines that may precede it): a
    /// client that closes before that asked nothing, one that closes after it sent a truncated request.
    /// </summary>
    public static bool HasRequestLine(in ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        while (reader.IsNext("\r\n"u8, advancePast: true))
        {
        }

        return reader.TryAdvanceTo((byte)'\n');
    }

    /// <summary>RFC 9112 §3: request-line = method SP request-target SP HTTP-version</summary>
    private static RejectionReason ParseRequestLine(ReadOnlySpan<byte> line, int lineStart, RequestHead head, in HeadLimits limits)
    {
        int firstSpace = line.IndexOf((byte)' ');
        if (firstSpace <= 0)
        {
            return RejectionReason.InvalidRequestLine;
        }

        // RFC 9110 §9.1: method = token
        ReadOnlySpan<byte> method = line[..firstSpace];
        if (!HttpCharacters.IsToken(method))
        {
            return RejectionReason.InvalidMethod;
        }

        int targetStart = firstSpace + 1;
        int secondSpace = line[targetStart..].IndexOf((byte)' ');
        if (secondSpace <= 0)
        {
            return RejectionReason.InvalidRequestLine;
        }

        ReadOnlySpan<byte> target = line.Slice(targetStart, secondSpace);
        if (target.Length > limits.MaxRequestTargetLength)
        {
            return RejectionReason.RequestTargetTooLong;
        }

        RejectionReason reason = HeadParser.ParseVersion(line[(targetStart + secondSpace + 1)..], out HttpVersion version);
        if (reason != RejectionReason.None)
        {
            return reason;
        }

        head.Version = version;
        head.Method = ClassifyMethod(method);
        head.MethodStart = lineStart;
        head.MethodLength = firstSpace;
        head.TargetStart = lineStart + targetStart;
        head.TargetLength = target.Length;

        // RFC 9112 §3.2.3: authority-form exists only for CONNECT, which a gateway does not tunnel.
        if (head.Method == HttpMethod.Connect)
        {
            return RejectionReason.ConnectNotSupported;
        }

        return ParseTarget(target, lineStart + targetStart, head);
    }

    private static RejectionReason ParseTarget(ReadOnlySpan<byte> target, int targetStart, RequestHead head)
    {
        int pathStart;
        if (target[0] == '/')
        {
            // RFC 9112 §3.2.1: origin-form = absolute-path [ "?" query ]
            pathStart = 0;
        }
        else if (target.SequenceEqual("*"u8))
        {
            // RFC 9112 §3.2.4: asterisk-form is only for a server-wide OPTIONS.
            if (head.Method != HttpMethod.Options)
            {
                return RejectionReason.InvalidRequestTarget;
            }

            head.IsAsteriskForm = true;
            head.PathStart = targetStart;
            head.PathLength = 0;
            return RejectionReason.None;
        }
        else
        {
            // RFC 9112 §3.2.2: absolute-form; the target's authority replaces the Host header.
            int schemeLength = StartsWithIgnoreCase(target, "http://"u8) ? 7 : StartsWithIgnoreCase(target, "https://"u8) ? 8 : 0;
            if (schemeLength == 0)
            {
                return RejectionReason.InvalidRequestTarget;
            }

            ReadOnlySpan<byte> afterScheme = target[schemeLength..];
            int authorityLength = afterScheme.IndexOfAny((byte)'/', (byte)'?');
            if (authorityLength < 0)
            {
                authorityLength = afterScheme.Length;
            }

            // The authority is held to exactly the rules of a Host field (an IPv6 literal's brackets included), so
            // the two forms accept the same hosts; RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid.
            ReadOnlySpan<byte> authority = afterScheme[..authorityLength];
            if (authority.IsEmpty || !HttpCharacters.IsValidAuthority(authority))
            {
                return RejectionReason.InvalidHost;
            }

            head.HostStart = targetStart + schemeLength;
            head.HostLength = authorityLength;
            pathStart = schemeLength + authorityLength;
            if (pathStart < target.Length && target[pathStart] != '/')
            {
                // "http://host?query" has an empty path; it is forwarded as "/?query".
                head.PathStart = targetStart + pathStart;
                head.PathLength = 0;
                head.QueryStart = targetStart + pathStart;
                head.QueryLength = target.Length - pathStart;
                return RejectionReason.None;
            }
        }

        // RFC 3986 §3.3, §3.4: no spaces, controls, fragments ("#"), backslashes or raw non-ASCII in the path and query.
        ReadOnlySpan<byte> pathAndQuery = target[pathStart..];
        if (pathAndQuery.ContainsAnyExcept(HttpCharacters.RequestTarget))
        {
            return RejectionReason.InvalidRequestTarget;
        }

        int question = pathAndQuery.IndexOf((byte)'?');
        head.PathStart = targetStart + pathStart;
        head.PathLength = question < 0 ? pathAndQuery.Length : question;
        head.QueryStart = head.PathStart + head.PathLength;
        head.QueryLength = pathAndQuery.Length - head.PathLength;
        return RejectionReason.None;
    }

    private static RejectionReason ApplyRequestHeader(ReadOnlySpan<byte> input, RequestHead head)
    {
        ref HeaderField field = ref head.HeaderAt(head.HeaderCount - 1);
        ReadOnlySpan<byte> value = input.Slice(field.ValueStart, field.ValueLength);
        switch (field.Known)
        {
            case KnownHeader.Host:
                // RFC 9112 §3.2: exactly one Host; its value is an authority (RFC 3986 §3.2).
                field.Dropped = true;
                if (++head.HostFieldCount > 1)
                {
                    return RejectionReason.MultipleHost;
                }

                // RFC 9110 §7.2: a client whose target URI has no authority sends an empty Host; it names no host.
                if (!value.IsEmpty && !HttpCharacters.IsValidAuthority(value))
                {
                    return RejectionReason.InvalidHost;
                }

                if (head.HostLength == 0)
                {
                    head.HostStart = field.ValueStart;
                    head.HostLength = field.ValueLength;
                }

                return RejectionReason.None;

            case KnownHeader.Expect:
                // RFC 9110 §10.1.1: the only expectation defined is 100-continue; others get 417.
                if (!Ascii.EqualsIgnoreCase(value, "100-continue"u8))
                {
                    return RejectionReason.UnsupportedExpectation;
                }

                head.ExpectContinue = true;
                return RejectionReason.None;

            case KnownHeader.Traceparent:
                // The gateway is a hop of the trace: it sends its own traceparent, a child of this one.
                field.Dropped = true;
                head.TraceparentIndex = head.HeaderCount - 1;
                return RejectionReason.None;

            case KnownHeader.XForwardedFor or KnownHeader.XForwardedHost or KnownHeader.XForwardedProto
                or KnownHeader.ClientCert or KnownHeader.ClientCertChain:
                // The gateway sets these itself; a client must not be able to forge them (RFC 9440 §4 for Client-Cert).
                field.Dropped = true;
                return RejectionReason.None;

            default:
                return RejectionReason.None;
        }
    }

    private static RejectionReason ValidateFraming(RequestHead head)
    {
        if (head.Version == HttpVersion.Http11 && head.HostFieldCount == 0)
        {
            return RejectionReason.MissingHost;
        }

        if (head.HasTransferEncoding)
        {
            // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 cannot be trusted; §6.3: TE with CL is a smuggling signal.
            if (head.Version == HttpVersion.Http10)
            {
                return RejectionReason.TransferEncodingOnHttp10;
            }

            if (head.ContentLength >= 0)
            {
                return RejectionReason.ContentLengthWithTransferEncoding;
            }
        }

        return HeadParser.ValidateTransferEncoding(head);
    }

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> value, ReadOnlySpan<byte> prefix) =>
        value.Length >= prefix.Length && Ascii.EqualsIgnoreCase(value[..prefix.Length], prefix);

    private static HttpMethod ClassifyMethod(ReadOnlySpan<byte> method) => method.Length switch
    {
        3 when method.SequenceEqual("GET"u8) => HttpMethod.Get,
        3 when method.SequenceEqual("PUT"u8) => HttpMethod.Put,
        4 when method.SequenceEqual("POST"u8) => HttpMethod.Post,
        4 when method.SequenceEqual("HEAD"u8) => HttpMethod.Head,
        5 when method.SequenceEqual("PATCH"u8) => HttpMethod.Patch,
        5 when method.SequenceEqual("TRACE"u8) => HttpMethod.Trace,
        6 when method.SequenceEqual("DELETE"u8) => HttpMethod.Delete,
        7 when method.SequenceEqual("OPTIONS"u8) => HttpMethod.Options,
        7 when method.SequenceEqual("CONNECT"u8) => HttpMethod.Connect,
        _ => HttpMethod.Other,
    };
}
