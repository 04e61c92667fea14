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

        if (!HeadParser.TryFindLine(input, 0, out int lineLength, out bool bareLf))
        {
            // RFC 9112 §3: a request line longer than the target limit allows is answered with 414.
            reason = input.Length > limits.MaxRequestTargetLength + 32 ? RejectionReason.RequestTargetTooLong
                : input.Length >= limits.MaxHeadSize ? RejectionReason.HeadTooLarge
                : RejectionReason.None;
            return reason == RejectionReason.None ? ParseStatus.Incomplete : ParseStatus.Rejected;
        }

        reason = bareLf ? RejectionReason.BareLineFeed : ParseRequestLine(input[..lineLength], head, limits);
        if (reason != RejectionReason.None)
        {
            return ParseStatus.Rejected;
        }

        int position = lineLength + 2;
        while (true)
        {
            if (!HeadParser.TryFindLine(input, position, out lineLength, out bareLf))
            {
                if (input.Length >= limits.MaxHeadSize)
                {
                    reason = RejectionReason.HeadTooLarge;
                    return ParseStatus.Rejected;
                }

                return ParseStatus.Incomplete;
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

    /// <summary>RFC 9112 §3: request-line = method SP request-target SP HTTP-version</summary>
    private static RejectionReason ParseRequestLine(ReadOnlySpan<byte> line, RequestHead head, in HeadLimits limits)
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
        head.MethodLength = firstSpace;
        head.TargetStart = targetStart;
        head.TargetLength = target.Length;

        // RFC 9112 §3.2.3: authority-form exists only for CONNECT, which a gateway does not tunnel.
        if (head.Method == HttpMethod.Connect)
        {
            return RejectionReason.ConnectNotSupported;
        }

        // RFC 3986: no spaces, controls, fragments ("#"), backslashes or raw non-ASCII in the target.
        if (target.ContainsAnyExcept(HttpCharacters.RequestTarget))
        {
            return RejectionReason.InvalidRequestTarget;
        }

        return ParseTarget(target, targetStart, head);
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

            ReadOnlySpan<byte> authority = afterScheme[..authorityLength];
            if (!HttpCharacters.IsValidAuthority(authority))
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

        ReadOnlySpan<byte> pathAndQuery = target[pathStart..];
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

                if (!HttpCharacters.IsValidAuthority(value))
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

            case KnownHeader.XForwardedFor or KnownHeader.XForwardedHost or KnownHeader.XForwardedProto:
                // The gateway sets these itself; a client must not be able to forge them.
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

        if (head.IsChunked)
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

        return RejectionReason.None;
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
