using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using HyperGate.Buffers;

namespace HyperGate.Transport;

/// <summary>
/// An event-loop connection's output. Bytes are written in place into pooled blocks and sent by a flush: one system
/// call for everything buffered. Only a full socket makes a flush wait, for the loop's writable edge. A pipe with a send
/// loop behind it cost, per message, five lock round trips, a continuation and a segment; here a message costs a block
/// from the pool and one system call. Serves its connection object's sockets in turn (<see cref="Open"/>).
/// </summary>
/// <remarks>
/// A flush made on the connection's own loop thread is sent when the loop ends its turn, with every other socket's
/// (<see cref="EventLoop.DeferFlush"/>): the loop reads all the sockets that were ready, then sends. Each peer is then
/// woken once for a burst instead of once per message, which is what a peer sharing a busy core pays most for (a
/// context switch per message), and pipelined responses go out in one send. Until the loop has sent, the loop owns
/// the buffer: a write from another thread first takes it back (<see cref="TakeBack"/>), and sends with its own flush.
/// </remarks>
internal sealed class SocketOutput(EventLoopConnection connection, EventLoop loop) : PipeWriter, IDirectSendWriter
{
    /// <summary>The writer's (<see cref="_owner"/>): it writes and sends.</summary>
    private const int WriterOwns = 0;

    /// <summary>A flush waits for the loop's end of turn (or, with <see cref="_full"/>, for the socket's writable edge).</summary>
    private const int LoopOwns = 1;

    /// <summary>The loop is sending; a writer on another thread waits for it to finish.</summary>
    private const int LoopSending = 2;

    /// <summary>Blocks gathered into one sendmsg.</summary>
    private const int SendVectors = 16;

    private static readonly ValueTask<FlushResult> s_sent = new(default(FlushResult));
    private static readonly ValueTask<FlushResult> s_ended = new(new FlushResult(isCanceled: false, isCompleted: true));

    // One slot to start with (a ring of a power of two, doubled when full): most connections never buffer more than
    // one block, and a large body grows it once per connection.
    private Segment[] _segments = new Segment[1];
    private int _first;
    private int _count;

    /// <summary>
    /// The unwritten rest of the last block, as a pointer: most writes are served from here without looking further,
    /// and a span made from it does not touch the block's array (a <see cref="Memory{T}"/> reads its object header to
    /// learn its kind, a cache miss on every head field written).
    /// </summary>
    private unsafe byte* _free;
    private int _freeLength;
    private int _fd;
    private volatile bool _flushCancelled;
    private bool _ended;
    private int _owner;

    /// <summary>The loop's send at the end of its turn found the socket full: the rest goes at the writable edge.</summary>
    private bool _full;

    /// <summary>Starts writing to a new socket; the last one's blocks were all sent or dropped when it closed.</summary>
    public void Open(int fd)
    {
        _fd = fd;
        _flushCancelled = false;
        _ended = false;
        _full = false;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        // Memory may be held across an await, while the loop sends and gives back fully sent blocks: the writer's.
        TakeBack(always: true);
        EnsureFree(sizeHint);
        ref Segment last = ref _segments[Index(_count - 1)];
        return last.Owner.Memory[last.End..];
    }

    public override unsafe Span<byte> GetSpan(int sizeHint = 0)
    {
        TakeBack();
        EnsureFree(sizeHint);
        return new Span<byte>(_free, _freeLength);
    }

    public override unsafe void Advance(int bytes)
    {
        if ((uint)bytes > (uint)_freeLength)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), "Advance past the memory from GetMemory or GetSpan.");
        }

        _segments[Index(_count - 1)].End += bytes;
        _free += bytes;
        _freeLength -= bytes;
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_ended)
        {
            return s_ended;
        }

        if (EventLoop.Current == loop)
        {
            if (_owner == WriterOwns)
            {
                _owner = LoopOwns;
                loop.DeferFlush(this);
                return s_sent;
            }

            // Already to be sent this turn; unless the socket is full, when the writer must wait for room itself.
            if (!_full)
            {
                return s_sent;
            }
        }

        TakeBack(always: true);
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

    /// <summary>
    /// As writing <paramref name="data"/> and flushing, without copying what the socket takes at once: the buffered
    /// bytes and <paramref name="data"/> go out in one sendmsg, and only what did not fit is copied in to wait for
    /// room. The caller may release <paramref name="data"/> as soon as this returns, before it completes.
    /// </summary>
    public unsafe ValueTask<FlushResult> SendAndFlushAsync(ReadOnlyMemory<byte> data)
    {
        if (_ended)
        {
            return s_ended;
        }

        TakeBack(always: true);
        if (_count >= SendVectors)
        {
            this.Write(data.Span);
            return FlushAsync();
        }

        LinuxSockets.IoVector* vectors = stackalloc LinuxSockets.IoVector[SendVectors];
        long buffered = 0;
        for (int i = 0; i < _count; i++)
        {
            ref Segment segment = ref _segments[Index(i)];
            vectors[i] = new LinuxSockets.IoVector { Base = segment.Pointer + segment.Start, Length = (nuint)(segment.End - segment.Start) };
            buffered += segment.End - segment.Start;
        }

        nint sent;
        int error;
        fixed (byte* bytes = data.Span)
        {
            vectors[_count] = new LinuxSockets.IoVector { Base = bytes, Length = (nuint)data.Length };
            do
            {
                sent = LinuxSockets.Send(_fd, vectors, _count + 1, out error);
            }
            while (sent < 0 && error == LinuxSockets.EINTR);
        }

        if (sent < 0 && error != LinuxSockets.EAGAIN)
        {
            Fail();
            return s_ended;
        }

        sent = Math.Max(sent, 0);
        Consume((nint)Math.Min(sent, buffered));
        int dataSent = (int)Math.Max(sent - buffered, 0);
        if (dataSent == data.Length)
        {
            return s_sent;
        }

        // The socket is full: what it did not take waits here for its writable edge.
        this.Write(data.Span[dataSent..]);
        return FlushWhenWritableAsync();
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
        TakeBack(always: true);
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

    /// <summary>
    /// The loop's send of a deferred flush, at the end of its turn or, if the socket was full then, at its writable
    /// edge. Skipped when a writer took the buffer back meanwhile (its own flush sends it).
    /// </summary>
    internal void SendDeferred()
    {
        if (Interlocked.CompareExchange(ref _owner, LoopSending, LoopOwns) != LoopOwns)
        {
            return;
        }

        int error = _ended ? 0 : SendBuffered();
        _full = error == LinuxSockets.EAGAIN;
        if (error != 0 && !_full)
        {
            Fail();
        }

        Volatile.Write(ref _owner, _full ? LoopOwns : WriterOwns);
    }

    /// <summary>The socket has room: a deferred flush it could not take whole is sent on.</summary>
    internal void OnWritable()
    {
        if (_owner == LoopOwns && _full)
        {
            SendDeferred();
        }
    }

    /// <summary>
    /// Makes the buffer the writer's again before it writes or sends. On the loop's own thread a deferred flush stays
    /// deferred (later writes join it), unless the writer is about to send (<paramref name="always"/>); elsewhere the
    /// writer takes it back, waiting out a send the loop is making.
    /// </summary>
    private void TakeBack(bool always = false)
    {
        if (_owner == WriterOwns || (!always && EventLoop.Current == loop))
        {
            return;
        }

        var spinner = new SpinWait();
        while (Interlocked.CompareExchange(ref _owner, WriterOwns, LoopOwns) == LoopSending)
        {
            spinner.SpinOnce();
        }

        _full = false;
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
                ref Segment segment = ref _segments[Index(i)];
                vectors[i] = new LinuxSockets.IoVector { Base = segment.Pointer + segment.Start, Length = (nuint)(segment.End - segment.Start) };
                total += segment.End - segment.Start;
            }

            if (total == 0)
            {
                // Memory asked for and never written before the flush: nothing to send.
                ReleaseAll();
                return 0;
            }

            nint sent = LinuxSockets.Send(_fd, vectors, count, out int error);
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
            _first = Index(1);
            _count--;
        }

        _first = 0;
        ClearFree();
    }

    private void EnsureFree(int sizeHint)
    {
        if (_freeLength < Math.Max(sizeHint, 1))
        {
            Append(sizeHint);
        }
    }

    private unsafe void Append(int sizeHint)
    {
        if (_count == _segments.Length)
        {
            var larger = new Segment[_segments.Length * 2];
            for (int i = 0; i < _count; i++)
            {
                larger[i] = _segments[Index(i)];
            }

            _segments = larger;
            _first = 0;
        }

        IMemoryOwner<byte> owner = sizeHint <= loop.Pool.MaxBufferSize ? loop.Pool.Rent() : MemoryPool<byte>.Shared.Rent(sizeHint);
        var segment = new Segment(owner);
        _segments[Index(_count)] = segment;
        _count++;
        _free = segment.Pointer;
        _freeLength = owner.Memory.Length;
    }

    private unsafe void ClearFree()
    {
        _free = null;
        _freeLength = 0;
    }

    /// <summary>The slot of the <paramref name="offset"/>-th buffered block (the ring's length is a power of two).</summary>
    private int Index(int offset) => (_first + offset) & (_segments.Length - 1);

    private void ReleaseAll()
    {
        for (int i = 0; i < _count; i++)
        {
            Release(ref _segments[Index(i)]);
        }

        _first = 0;
        _count = 0;
        ClearFree();
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
        public readonly MemoryHandle Pin;
        public readonly byte* Pointer;
        public int Start;
        public int End;

        public Segment(IMemoryOwner<byte> owner)
        {
            Owner = owner;
            if (owner is RetainingBlockPool.PinnedBlock block)
            {
                Pointer = block.Pointer;
            }
            else
            {
                Pin = owner.Memory.Pin();
                Pointer = (byte*)Pin.Pointer;
            }
        }
    }
}
