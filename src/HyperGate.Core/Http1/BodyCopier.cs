using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using HyperGate.Transport;

namespace HyperGate.Http1;

/// <summary>Outcome of streaming a body from one side to the other.</summary>
public enum BodyCopyResult : byte
{
    Completed,
    /// <summary>The source closed before the body was complete.</summary>
    SourceTruncated,
    /// <summary>The source sent bytes that are not a valid body (bad chunk framing).</summary>
    SourceInvalid,
    /// <summary>The destination went away.</summary>
    DestinationClosed,
    TooLarge,
    /// <summary>The source sent slower (or stayed silent longer) than its <see cref="BodyRateGuard"/> allows.</summary>
    SourceTooSlow,
}

/// <summary>Streams bodies between pipes with bounded memory: each read is passed on (sent from the source's buffer where the destination can, else copied) and flushed with backpressure before the next.</summary>
public static class BodyCopier
{
    /// <summary>Pieces at least this large are sent from the source's buffer (<see cref="IDirectSendWriter"/>); smaller ones are copied and coalesced.</summary>
    private const int DirectSendMinimum = 4096;

    /// <summary>Copies exactly <paramref name="length"/> bytes. A small last piece is left unflushed unless asked, so a
    /// small response leaves in the same write as its head.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<BodyCopyResult> CopyExactAsync(PipeReader source, PipeWriter destination, long length, bool flushAtEnd, BodyRateGuard? guard, CancellationToken cancellationToken, IBodySink? sink = null)
    {
        long remaining = length;
        while (remaining > 0)
        {
            ReadResult result = await source.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (result.IsCanceled && guard is { TooSlow: true })
            {
                source.AdvanceTo(buffer.Start);
                return BodyCopyResult.SourceTooSlow;
            }

            if (buffer.IsEmpty && result.IsCompleted)
            {
                source.AdvanceTo(buffer.End);
                return BodyCopyResult.SourceTruncated;
            }

            ReadOnlySequence<byte> slice = buffer.Length > remaining ? buffer.Slice(0, remaining) : buffer;
            bool flush = remaining > slice.Length || flushAtEnd;

            // A large piece goes from the source's buffer to the socket without a copy, when the destination can;
            // it is sent at once even when it ends the body (a large piece gains nothing from waiting to coalesce).
            bool direct = slice.IsSingleSegment && slice.Length >= DirectSendMinimum && destination is IDirectSendWriter;
            flush |= direct;
            ValueTask<FlushResult> sending = direct ? ((IDirectSendWriter)destination).SendAndFlushAsync(slice.First) : default;
            if (!direct)
            {
                foreach (ReadOnlyMemory<byte> segment in slice)
                {
                    destination.Write(segment.Span);
                }
            }

            // The length is taken before AdvanceTo: afterwards the slice's segments belong to the pipe again.
            sink?.Append(slice);
            remaining -= slice.Length;
            guard?.Received(slice.Length);
            source.AdvanceTo(slice.End);
            if (flush)
            {
                FlushResult flushed = direct ? await sending : await destination.FlushAsync(cancellationToken);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    return BodyCopyResult.DestinationClosed;
                }
            }
        }

        return BodyCopyResult.Completed;
    }

    /// <summary>Copies until the source closes: the framing of a response with neither length nor chunking.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<BodyCopyResult> CopyUntilCloseAsync(PipeReader source, PipeWriter destination, BodyRateGuard? guard, CancellationToken cancellationToken, IBodySink? sink = null)
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

            guard?.Received(buffer.Length);
            sink?.Append(buffer);
            foreach (ReadOnlyMemory<byte> segment in buffer)
            {
                destination.Write(segment.Span);
            }

            source.AdvanceTo(buffer.End);
            FlushResult flush = await destination.FlushAsync(cancellationToken);
            if (flush.IsCompleted)
            {
                return BodyCopyResult.DestinationClosed;
            }

            if (result.IsCompleted)
            {
                return BodyCopyResult.Completed;
            }
        }
    }
}
