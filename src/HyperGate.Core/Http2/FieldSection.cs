using System.Text;
using HyperGate.Http1;
using HyperGate.Http2.Hpack;

namespace HyperGate.Http2;

/// <summary>What a header block holds: a request's head, a response's head, or a trailer section.</summary>
internal enum SectionKind : byte
{
    Request,
    Response,
    Trailers,
}

/// <summary>
/// Turns the fields of a header block into the HTTP/1.1 form the rest of the gateway reads. A request's head is
/// written out and parsed by the same strict parser as any request (RFC 9113 §8.3.1: the pseudo-header fields map
/// to the request line and Host), so that routing, policies and forwarding see no difference; a response's becomes
/// a status line and fields for the forwarder; a trailer section, field lines. The rules HTTP/2 adds (RFC 9113
/// §8.2, §8.3) are checked field by field; a message that breaks one is malformed, and its stream is reset with
/// PROTOCOL_ERROR before anything of it runs.
/// </summary>
internal sealed class FieldSection : IHeaderFieldSink
{
    private byte[] _head = new byte[1024];
    private int _length;
    private byte[] _built = new byte[1024];
    private byte[] _cookies = new byte[256];
    private int _cookiesLength;
    private readonly byte[] _method = new byte[32];
    private int _methodLength;
    private byte[] _path = new byte[256];
    private int _pathLength;
    private byte[] _authority = new byte[256];
    private int _authorityLength;
    private bool _hasMethod, _hasScheme, _hasPath, _hasAuthority, _hasHost, _regularSeen;
    private SectionKind _kind;
    private int _status;
    private long _listSize;
    private int _maxListSize;

    /// <summary>Why the block is malformed (for the metrics' reason and tests), or null.</summary>
    public string? Malformed { get; private set; }

    /// <summary>The decoded field section is larger than SETTINGS_MAX_HEADER_LIST_SIZE allows (RFC 9113 §10.5.1).</summary>
    public bool TooLarge { get; private set; }

    /// <summary>The request's content-length, or -1.</summary>
    public long ContentLength { get; private set; }

    /// <summary>Starts a header block's fields.</summary>
    public void Begin(int maxListSize, SectionKind kind)
    {
        _length = _cookiesLength = _methodLength = _pathLength = _authorityLength = 0;
        _hasMethod = _hasScheme = _hasPath = _hasAuthority = _hasHost = _regularSeen = false;
        _kind = kind;
        _status = 0;
        _listSize = 0;
        _maxListSize = maxListSize;
        Malformed = null;
        TooLarge = false;
        ContentLength = -1;
    }

    public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        // §6.5.2: the list size counts every field, decoded, with 32 bytes each. The block is still decoded to its
        // end when it is too large, so the connection's HPACK state stays in step.
        _listSize += name.Length + value.Length + HpackDynamicTable.EntryOverhead;
        if (_listSize > _maxListSize)
        {
            TooLarge = true;
        }

        if (Malformed is not null || TooLarge)
        {
            return;
        }

        if (!name.IsEmpty && name[0] == (byte)':')
        {
            OnPseudoField(name, value);
            return;
        }

        _regularSeen = true;

        // §8.2.1: names are lowercase tokens; values carry no NUL, CR or LF and no leading or trailing whitespace.
        if (!HttpCharacters.IsToken(name) || name.IndexOfAnyInRange((byte)'A', (byte)'Z') >= 0)
        {
            Malformed = "invalid_field_name";
            return;
        }

        if (value.IndexOfAny((byte)0, (byte)'\r', (byte)'\n') >= 0 || (!value.IsEmpty && (IsWhitespace(value[0]) || IsWhitespace(value[^1]))))
        {
            Malformed = "invalid_field_value";
            return;
        }

        // §8.2.2: connection-specific fields have no meaning in HTTP/2; TE may only say "trailers".
        if (Http2Stream.IsConnectionSpecific(name))
        {
            Malformed = "connection_specific_field";
            return;
        }

        if (name.SequenceEqual("te"u8) && !value.SequenceEqual("trailers"u8))
        {
            Malformed = "invalid_te";
            return;
        }

        if (_kind != SectionKind.Request)
        {
            if (_kind == SectionKind.Response && name.SequenceEqual("content-length"u8) && !TryTakeContentLength(value))
            {
                return;
            }

            Append(name, value);
            return;
        }

        if (name.SequenceEqual("content-length"u8) && !TryTakeContentLength(value))
        {
            return;
        }

        if (name.SequenceEqual("host"u8))
        {
            // §8.3.1: Host must name what :authority names; the head carries one Host, from either.
            if (_hasHost || (_hasAuthority && !Ascii.EqualsIgnoreCase(value, _authority.AsSpan(0, _authorityLength))))
            {
                Malformed = "host_authority_mismatch";
                return;
            }

            _hasHost = true;
            if (!_hasAuthority)
            {
                Copy(value, ref _authority, ref _authorityLength);
            }

            return;
        }

        if (name.SequenceEqual("cookie"u8))
        {
            // §8.2.3: a cookie split into several fields is joined with "; " before it goes on in HTTP/1.1.
            if (_cookiesLength > 0)
            {
                Grow(ref _cookies, _cookiesLength + 2 + value.Length);
                "; "u8.CopyTo(_cookies.AsSpan(_cookiesLength));
                _cookiesLength += 2;
            }
            else
            {
                Grow(ref _cookies, value.Length);
            }

            value.CopyTo(_cookies.AsSpan(_cookiesLength));
            _cookiesLength += value.Length;
            return;
        }

        Append(name, value);
    }

    private bool TryTakeContentLength(ReadOnlySpan<byte> value)
    {
        if (!long.TryParse(value, System.Globalization.NumberStyles.None, null, out long length) || (ContentLength >= 0 && ContentLength != length))
        {
            Malformed = "invalid_content_length";
            return false;
        }

        ContentLength = length;
        return true;
    }

    private void OnPseudoField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        // §8.3: pseudo-header fields of the message's kind only, each once, all before the regular fields, none in trailers.
        if (_regularSeen || _kind == SectionKind.Trailers)
        {
            Malformed = "misplaced_pseudo_header";
            return;
        }

        if (_kind == SectionKind.Response)
        {
            // §8.3.2: :status alone, three digits.
            if (!name.SequenceEqual(":status"u8) || _status != 0 || value.Length != 3 || !int.TryParse(value, System.Globalization.NumberStyles.None, null, out _status) || _status < 100)
            {
                Malformed = "invalid_status";
            }

            return;
        }

        if (name.SequenceEqual(":method"u8))
        {
            if (_hasMethod || !HttpCharacters.IsToken(value) || value.Length > _method.Length)
            {
                Malformed = "invalid_method";
                return;
            }

            _hasMethod = true;
            value.CopyTo(_method);
            _methodLength = value.Length;
        }
        else if (name.SequenceEqual(":scheme"u8))
        {
            if (_hasScheme || value.IsEmpty)
            {
                Malformed = "invalid_scheme";
                return;
            }

            _hasScheme = true;
        }
        else if (name.SequenceEqual(":path"u8))
        {
            if (_hasPath || value.IsEmpty)
            {
                Malformed = "invalid_path";
                return;
            }

            _hasPath = true;
            Copy(value, ref _path, ref _pathLength);
        }
        else if (name.SequenceEqual(":authority"u8))
        {
            if (_hasAuthority || _hasHost)
            {
                Malformed = "invalid_authority";
                return;
            }

            _hasAuthority = true;
            Copy(value, ref _authority, ref _authorityLength);
        }
        else
        {
            Malformed = "unknown_pseudo_header";
        }
    }

    /// <summary>
    /// After the block: checks what must be there (§8.3.1), and writes the head in HTTP/1.1 form. A request whose
    /// body has no declared length is sent on chunked (<paramref name="bodyFollows"/>).
    /// </summary>
    public bool TryComplete(bool bodyFollows, out ReadOnlyMemory<byte> head)
    {
        head = default;
        if (Malformed is not null || TooLarge)
        {
            return false;
        }

        ReadOnlySpan<byte> method = _method.AsSpan(0, _methodLength);
        bool connect = method.SequenceEqual("CONNECT"u8);
        if (!_hasMethod || (!connect && (!_hasScheme || !_hasPath)) || (connect && (_hasScheme || _hasPath || !_hasAuthority)))
        {
            Malformed = "missing_pseudo_header";
            return false;
        }

        ReadOnlySpan<byte> path = _path.AsSpan(0, _pathLength);
        if (!connect && path[0] != (byte)'/' && !(path.SequenceEqual("*"u8) && method.SequenceEqual("OPTIONS"u8)))
        {
            Malformed = "invalid_path";
            return false;
        }

        if (!bodyFollows && ContentLength > 0)
        {
            // §8.1.1: END_STREAM on the header block means no content; a length that says otherwise is malformed.
            Malformed = "content_length_mismatch";
            return false;
        }

        ReadOnlySpan<byte> authority = _authority.AsSpan(0, _authorityLength);
        int fieldsLength = _length;
        int size = method.Length + 1 + (connect ? authority.Length : path.Length) + " HTTP/1.1\r\n"u8.Length
            + "host: \r\n"u8.Length + authority.Length + "cookie: \r\n"u8.Length + _cookiesLength + "transfer-encoding: chunked\r\n\r\n"u8.Length;
        Grow(ref _built, size + fieldsLength);
        Span<byte> output = _built;
        int at = Write(output, 0, method);
        output[at++] = (byte)' ';
        at = Write(output, at, connect ? authority : path);
        at = Write(output, at, " HTTP/1.1\r\n"u8);
        if (_authorityLength > 0)
        {
            at = Write(output, at, "host: "u8);
            at = Write(output, at, authority);
            at = Write(output, at, "\r\n"u8);
        }

        at = Write(output, at, _head.AsSpan(0, fieldsLength));
        if (_cookiesLength > 0)
        {
            at = Write(output, at, "cookie: "u8);
            at = Write(output, at, _cookies.AsSpan(0, _cookiesLength));
            at = Write(output, at, "\r\n"u8);
        }

        if (bodyFollows && ContentLength < 0)
        {
            at = Write(output, at, "transfer-encoding: chunked\r\n"u8);
        }

        at = Write(output, at, "\r\n"u8);
        head = _built.AsMemory(0, at);
        return true;
    }

    /// <summary>
    /// After a response's block: the status line and fields in HTTP/1.1 form, framed for what follows: a declared
    /// length as it is, chunked when none was declared and DATA follows, no body (length 0) when the block ended the
    /// stream. A length with no DATA to come is malformed except on a response to HEAD (RFC 9110 §9.3.2) or a 304.
    /// </summary>
    public bool TryCompleteResponse(bool bodyFollows, bool headRequest, out ReadOnlyMemory<byte> head)
    {
        head = default;
        if (Malformed is not null || TooLarge)
        {
            return false;
        }

        if (_status == 0)
        {
            Malformed = "missing_pseudo_header";
            return false;
        }

        bool interim = _status < 200;
        if (!bodyFollows && ContentLength > 0 && !headRequest && _status != 304 && !interim)
        {
            Malformed = "content_length_mismatch";
            return false;
        }

        Grow(ref _built, _length + 64);
        Span<byte> output = _built;
        int at = Write(output, 0, "HTTP/1.1 "u8);
        _status.TryFormat(output[at..], out int digits);
        at += digits;
        at = Write(output, at, " \r\n"u8);
        at = Write(output, at, _head.AsSpan(0, _length));
        if (!interim && _status != 204 && _status != 304 && ContentLength < 0)
        {
            at = Write(output, at, bodyFollows ? "transfer-encoding: chunked\r\n"u8 : "content-length: 0\r\n"u8);
        }

        at = Write(output, at, "\r\n"u8);
        head = _built.AsMemory(0, at);
        return true;
    }

    /// <summary>The status of the response block just completed.</summary>
    public int Status => _status;

    /// <summary>The trailer section's field lines in HTTP/1.1 form (each ending in CRLF); empty when there were none.</summary>
    public ReadOnlySpan<byte> TrailerLines => _head.AsSpan(0, _length);

    private void Append(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Grow(ref _head, _length + name.Length + value.Length + 4);
        Span<byte> line = _head.AsSpan(_length);
        name.CopyTo(line);
        line[name.Length] = (byte)':';
        line[name.Length + 1] = (byte)' ';
        value.CopyTo(line[(name.Length + 2)..]);
        "\r\n"u8.CopyTo(line[(name.Length + 2 + value.Length)..]);
        _length += name.Length + value.Length + 4;
    }

    private static int Write(Span<byte> output, int at, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output[at..]);
        return at + bytes.Length;
    }

    private static void Copy(ReadOnlySpan<byte> value, ref byte[] buffer, ref int length)
    {
        Grow(ref buffer, value.Length);
        value.CopyTo(buffer);
        length = value.Length;
    }

    private static void Grow(ref byte[] buffer, int size)
    {
        if (buffer.Length < size)
        {
            Array.Resize(ref buffer, Math.Max(size, buffer.Length * 2));
        }
    }

    private static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t';
}
