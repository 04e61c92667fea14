using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using HyperGate.Buffers;

namespace HyperGate.Transport;

/// <summary>
/// An event-loop connection's output. Bytes are written in place into pooled blocks and sent by the flush itself: one
/// sendmsg for everything buffered, on the flushing thread. Only a full socket makes a flush wait, for the loop's
/// writable edge. A pipe with a send loop behind it cost, per message, five lock round trips, a continuation and a
/// segment; here a message costs a block from the pool and one system call.
/// </summary>
internal sealed class SocketOutput(EventLoopConnection connection, int fd, MemoryPool<byte> pool) : PipeWriter
{
    /// <summary>Blocks gathered into one sendmsg.</summary>
    private const int SendVectors = 16;

    private static readonly ValueTask<FlushResult> s_sent = new(default(FlushResult));
    private static readonly ValueTask<FlushResult> s_ended = new(new FlushResult(isCanceled: false, isCompleted: true));

    private Segment[] _segments = new Segment[4];
    private int _first;
    private int _count;
    private long _unflushed;
    private volatile bool _flushCancelled;
    private bool _ended;

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _unflushed;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_count > 0)
        {
            ref Segment last = ref _segments[(_first + _count - 1) % _segments.Length];
            if (last.Memory.Length - last.End >= sizeHint)
            {
                return last.Memory[last.End..];
            }
        }

        return Append(sizeHint).Memory;
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0)
        {
            return;
        }

        if (_count == 0)
        {
            throw new InvalidOperationException("Advance without memory from GetMemory or GetSpan.");
        }

        ref Segment last = ref _segments[(_first + _count - 1) % _segments.Length];
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, last.Memory.Length - last.End);
        last.End += bytes;
        _unflushed += bytes;
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_ended)
        {
            return s_ended;
        }

        _unflushed = 0;
        int error = SendBuffered();
        if (error == 0)
        {
            return s_sent;
        }

        if (error == LinuxSockets.EAGAIN)
        {
            return FlushWhenWritableAsync();
        }

        Fail();
        return s_ended;
    }

    /// <summary>A flush waiting for the socket returns at once, cancelled (a flush that sent everything is not affected).</summary>
    public override void CancelPendingFlush()
    {
        _flushCancelled = true;
        connection.SignalWritable();
    }

    /// <summary>No more bytes will be written. What is buffered goes out when the connection is disposed (<see cref="DrainAsync"/>).</summary>
    public override void Complete(Exception? exception = null)
    {
    }

    /// <summary>Sends what is still buffered, waiting for the socket as needed, and gives the blocks back.</summary>
    public async ValueTask DrainAsync()
    {
        while (!_ended)
        {
            int error = SendBuffered();
            if (error == 0)
            {
                break;
            }

            if (error != LinuxSockets.EAGAIN)
            {
                Fail();
                break;
            }

            await connection.WaitWritableAsync();
        }

        ReleaseAll();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> FlushWhenWritableAsync()
    {
        while (true)
        {
            await connection.WaitWritableAsync();
            if (_flushCancelled)
            {
                _flushCancelled = false;
                return new FlushResult(isCanceled: true, isCompleted: false);
            }

            int error = SendBuffered();
            if (error == 0)
            {
                return default;
            }

            if (error != LinuxSockets.EAGAIN)
            {
                Fail();
                return new FlushResult(isCanceled: false, isCompleted: true);
            }
        }
    }

    /// <summary>The peer is gone or the socket failed: what is buffered is dropped and every later flush says completed.</summary>
    private void Fail()
    {
        _ended = true;
        ReleaseAll();
    }

    /// <summary>Sends from the first buffered block on; 0 when everything went, else the errno that stopped it.</summary>
    private unsafe int SendBuffered()
    {
        LinuxSockets.IoVector* vectors = stackalloc LinuxSockets.IoVector[SendVectors];
        while (_count > 0)
        {
            int count = Math.Min(_count, SendVectors);
            long total = 0;
            for (int i = 0; i < count; i++)
            {
                ref Segment segment = ref _segments[(_first + i) % _segments.Length];
                vectors[i] = new LinuxSockets.IoVector { Base = segment.Pointer + segment.Start, Length = (nuint)(segment.End - segment.Start) };
                total += segment.End - segment.Start;
            }

            if (total == 0)
            {
                // Memory asked for and never written before the flush: nothing to send.
                ReleaseAll();
                return 0;
            }

            nint sent = LinuxSockets.Send(fd, vectors, count, out int error);
            if (sent < 0)
            {
                if (error == LinuxSockets.EINTR)
                {
                    continue;
                }

                return error;
            }

            Consume(sent);
            if (sent < total)
            {
                // A short send filled the socket: its writable edge comes when there is room again.
                return LinuxSockets.EAGAIN;
            }
        }

        return 0;
    }

    /// <summary>Drops <paramref name="sent"/> bytes from the front; fully sent blocks go back to the pool, so an idle connection holds none.</summary>
    private void Consume(nint sent)
    {
        while (_count > 0)
        {
            ref Segment first = ref _segments[_first];
            int take = (int)Math.Min(sent, first.End - first.Start);
            first.Start += take;
            sent -= take;
            if (first.Start < first.End)
            {
                return;
            }

            Release(ref first);
            _first = (_first + 1) % _segments.Length;
            _count--;
        }

        _first = 0;
    }

    private ref Segment Append(int sizeHint)
    {
        if (_count == _segments.Length)
        {
            var larger = new Segment[_segments.Length * 2];
            for (int i = 0; i < _count; i++)
            {
                larger[i] = _segments[(_first + i) % _segments.Length];
            }

            _segments = larger;
            _first = 0;
        }

        ref Segment segment = ref _segments[(_first + _count) % _segments.Length];
        IMemoryOwner<byte> owner = sizeHint <= pool.MaxBufferSize ? pool.Rent() : MemoryPool<byte>.Shared.Rent(sizeHint);
        segment = new Segment(owner);
        _count++;
        return ref segment;
    }

    private void ReleaseAll()
    {
        for (int i = 0; i < _count; i++)
        {
            Release(ref _segments[(_first + i) % _segments.Length]);
        }

        _first = 0;
        _count = 0;
    }

    private static void Release(ref Segment segment)
    {
        segment.Pin.Dispose();
        segment.Owner.Dispose();
        segment = default;
    }

    /// <summary>A block and the part of it that is written and not yet sent. Pool blocks are pinned for life; others are pinned here.</summary>
    private unsafe struct Segment
    {
        public readonly IMemoryOwner<byte> Owner;
        public readonly Memory<byte> Memory;
        public readonly MemoryHandle Pin;
        public readonly byte* Pointer;
        public int Start;
        public int End;

        public Segment(IMemoryOwner<byte> owner)
        {
            Owner = owner;
            Memory = owner.Memory;
            if (owner is RetainingBlockPool.PinnedBlock block)
            {
                Pointer = block.Pointer;
            }
            else
            {
                Pin = Memory.Pin();
                Pointer = (byte*)Pin.Pointer;
            }
        }
    }
}
