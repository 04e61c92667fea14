using System.Buffers;
using System.IO.Compression;
using System.IO.Pipelines;
using HyperGate.Pipeline;

namespace HyperGate.Compression;

/// <summary>
/// A response body compressed as it streams: bytes written here go through a <see cref="BrotliStream"/> or
/// <see cref="GZipStream"/>, whose output is sent to the client as chunks (RFC 9112 §7.1). Each flush of the copy
/// (one per read from the upstream) flushes the compressor too, so a slow stream reaches the client as it comes.
/// </summary>
public sealed class CompressedBody : EncodedBody
{
    private readonly PipeWriter _output;
    private readonly ChunkStream _chunks;
    private readonly Stream _compressor;
    private readonly ArrayBufferWriter<byte> _staging = new(16 * 1024);

    public CompressedBody(PipeWriter output, ContentCoding coding, CompressionLevel level)
    {
        _output = output;
        _chunks = new ChunkStream(output);
        _compressor = coding == ContentCoding.Brotli
            ? new BrotliStream(_chunks, level, leaveOpen: true)
            : new GZipStream(_chunks, level, leaveOpen: true);
    }

    public override long EncodedBytes => _chunks.Written;

    public override void Advance(int bytes)
    {
        _staging.Advance(bytes);
        _compressor.Write(_staging.WrittenSpan);
        _staging.ResetWrittenCount();
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => _staging.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => _staging.GetSpan(sizeHint);

    public override void CancelPendingFlush() => _output.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => _compressor.Dispose();

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        _compressor.Flush();
        return _output.FlushAsync(cancellationToken);
    }

    public override ValueTask<FlushResult> FinishAsync()
    {
        _compressor.Dispose();
        _output.Write("0\r\n\r\n"u8);
        return _output.FlushAsync();
    }

    /// <summary>Frames what the compressor writes as chunks on the client's pipe.</summary>
    private sealed class ChunkStream(PipeWriter output) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (buffer.IsEmpty)
            {
                return;
            }

            Span<byte> size = output.GetSpan(20);
            buffer.Length.TryFormat(size, out int digits, "X");
            size[digits] = (byte)'\r';
            size[digits + 1] = (byte)'\n';
            output.Advance(digits + 2);
            output.Write(buffer);
            output.Write("\r\n"u8);
            Written += buffer.Length;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
