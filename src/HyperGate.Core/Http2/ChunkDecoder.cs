using System.Buffers;
using HyperGate.Http1;

namespace HyperGate.Http2;

internal enum ChunkStep : byte
{
    /// <summary>A piece of chunk data is ready.</summary>
    Data,
    NeedMore,

    /// <summary>The last chunk and the trailer section were read.</summary>
    End,
    Invalid,
}

/// <summary>
/// Takes the chunked coding (RFC 9112 §7.1) off a body the exchange wrote for HTTP/1.1, as it arrives, for a
/// protocol that frames bodies itself; the trailer section is kept for the frame that ends the stream.
/// </summary>
internal sealed class ChunkDecoder
{
    private enum State : byte { Size, Data, DataEnd, Trailers, Done }

    private State _state;
    private long _chunkRemaining;
    private byte[] _trailers = [];

    public int TrailerLength { get; private set; }

    /// <summary>Starts on a new body (the trailer buffer is kept).</summary>
    public void Reset()
    {
        _state = State.Size;
        _chunkRemaining = 0;
        TrailerLength = 0;
    }

    /// <summary>The trailer section's field lines, each ending in CRLF.</summary>
    public ReadOnlySpan<byte> Trailers => _trailers.AsSpan(0, TrailerLength);

    /// <summary>Consumes framing from <paramref name="buffer"/> until a piece of data (left at the buffer's start, not consumed) or the end.</summary>
    public ChunkStep Next(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> data)
    {
        data = default;
        Span<byte> scratch = stackalloc byte[ChunkedBody.MaxChunkLineLength];
        while (true)
        {
            switch (_state)
            {
                case State.Data:
                    if (buffer.IsEmpty)
                    {
                        return ChunkStep.NeedMore;
                    }

                    data = buffer.Slice(0, Math.Min(buffer.Length, _chunkRemaining));
                    _chunkRemaining -= data.Length;
                    if (_chunkRemaining == 0)
                    {
                        _state = State.DataEnd;
                    }

                    return ChunkStep.Data;
                case State.Size or State.DataEnd or State.Trailers:
                    SequencePosition? lf = buffer.PositionOf((byte)'\n');
                    if (lf is null)
                    {
                        return buffer.Length > ChunkedBody.MaxChunkLineLength ? ChunkStep.Invalid : ChunkStep.NeedMore;
                    }

                    ReadOnlySequence<byte> line = buffer.Slice(0, lf.Value);
                    buffer = buffer.Slice(buffer.GetPosition(1, lf.Value));
                    if (line.Length > scratch.Length)
                    {
                        return ChunkStep.Invalid;
                    }

                    Span<byte> text = scratch[..(int)line.Length];
                    line.CopyTo(text);
                    text = text.TrimEnd((byte)'\r');
                    if (!OnLine(text))
                    {
                        return ChunkStep.Invalid;
                    }

                    if (_state == State.Done)
                    {
                        return ChunkStep.End;
                    }

                    break;
                default:
                    return ChunkStep.End;
            }
        }
    }

    private bool OnLine(ReadOnlySpan<byte> line)
    {
        switch (_state)
        {
            case State.Size:
                int end = line.IndexOf((byte)';');
                ReadOnlySpan<byte> hex = (end < 0 ? line : line[..end]).TrimEnd(" \t"u8);
                if (hex.IsEmpty || hex.Length > 15 || !long.TryParse(hex, System.Globalization.NumberStyles.AllowHexSpecifier, null, out _chunkRemaining))
                {
                    return false;
                }

                _state = _chunkRemaining == 0 ? State.Trailers : State.Data;
                return true;
            case State.DataEnd:
                _state = State.Size;
                return line.IsEmpty;
            default:
                if (line.IsEmpty)
                {
                    _state = State.Done;
                    return true;
                }

                if (TrailerLength + line.Length + 2 > ChunkedBody.MaxTrailerSize)
                {
                    return false;
                }

                if (_trailers.Length < TrailerLength + line.Length + 2)
                {
                    Array.Resize(ref _trailers, Math.Max(TrailerLength + line.Length + 2, _trailers.Length * 2));
                }

                line.CopyTo(_trailers.AsSpan(TrailerLength));
                "\r\n"u8.CopyTo(_trailers.AsSpan(TrailerLength + line.Length));
                TrailerLength += line.Length + 2;
                return true;
        }
    }
}
