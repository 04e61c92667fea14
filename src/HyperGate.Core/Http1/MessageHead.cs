using System.Buffers;
using System.Text;

namespace HyperGate.Http1;

/// <summary>
/// A parsed message head: a private copy of the head bytes plus offsets into it. One instance lives as long
/// as its connection and is reused for every message, so parsing allocates nothing in steady state.
/// </summary>
public abstract class MessageHead : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(1024);
    private HeaderField[] _headers = new HeaderField[16];

    /// <summary>Length of the head including the final empty line.</summary>
    public int HeadLength { get; internal set; }

    public int HeaderCount { get; private set; }

    /// <summary>Value of Content-Length, or -1 when absent.</summary>
    public long ContentLength { get; internal set; } = -1;

    public bool IsChunked { get; internal set; }

    /// <summary>True when the head has a Transfer-Encoding field, whatever it says.</summary>
    internal bool HasTransferEncoding { get; set; }

    /// <summary>The first transfer coding other than chunked (RFC 9112 §6.1), named in the 501 it gets; else null.</summary>
    public string? UnsupportedCoding { get; internal set; }

    /// <summary>True when a Connection header carries the "close" option.</summary>
    public bool ConnectionClose { get; internal set; }

    public bool ConnectionKeepAlive { get; internal set; }

    public bool ConnectionUpgrade { get; internal set; }

    /// <summary>Index of the Upgrade header field, or -1.</summary>
    public int UpgradeIndex { get; internal set; } = -1;

    internal int ConnectionHeaderIndexWithCustomOptions { get; set; } = -1;

    public HttpVersion Version { get; internal set; }

    public ReadOnlySpan<byte> Raw => _buffer.AsSpan(0, HeadLength);

    public ReadOnlySpan<HeaderField> Headers => _headers.AsSpan(0, HeaderCount);

    public ReadOnlySpan<byte> NameOf(in HeaderField field) => _buffer.AsSpan(field.NameStart, field.NameLength);

    public ReadOnlySpan<byte> ValueOf(in HeaderField field) => _buffer.AsSpan(field.ValueStart, field.ValueLength);

    /// <summary>Finds the value of the first header with this name (case-insensitive).</summary>
    public bool TryGetHeader(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        foreach (ref readonly HeaderField field in Headers)
        {
            if (Ascii.EqualsIgnoreCase(NameOf(field), name))
            {
                value = ValueOf(field);
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>Writes every field that is not <see cref="HeaderField.Dropped"/>, exactly as received, one per line.</summary>
    public void WriteForwardedFields(ref HeadWriter output)
    {
        ReadOnlySpan<byte> raw = Raw;
        foreach (ref readonly HeaderField field in Headers)
        {
            if (!field.Dropped)
            {
                output.Write(raw.Slice(field.NameStart, field.ValueStart + field.ValueLength - field.NameStart));
                output.Write("\r\n"u8);
            }
        }
    }

    internal virtual void Reset()
    {
        HeadLength = 0;
        HeaderCount = 0;
        ContentLength = -1;
        IsChunked = false;
        HasTransferEncoding = false;
        UnsupportedCoding = null;
        ConnectionClose = false;
        ConnectionKeepAlive = false;
        ConnectionUpgrade = false;
        UpgradeIndex = -1;
        ConnectionHeaderIndexWithCustomOptions = -1;
    }

    internal ref HeaderField AddHeader()
    {
        if (HeaderCount == _headers.Length)
        {
            Array.Resize(ref _headers, _headers.Length * 2);
        }

        return ref _headers[HeaderCount++];
    }

    internal ref HeaderField HeaderAt(int index) => ref _headers[index];

    /// <summary>Makes the private buffer at least <paramref name="length"/> bytes and returns it.</summary>
    internal Span<byte> EnsureBuffer(int length)
    {
        if (_buffer.Length < length)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(length);
        }

        return _buffer;
    }

    internal void CopyHead(ReadOnlySpan<byte> head) => head.CopyTo(EnsureBuffer(head.Length));

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        GC.SuppressFinalize(this);
    }
}
