using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Buffers;

/// <summary>
/// A pool of pinned blocks (32 KiB for the socket pipes) that keeps the blocks it has handed out. Kestrel's own
/// pool (since .NET 10) evicts idle blocks; measured on a proxy pinned to one core under steady load, the
/// eviction churned about 650 bytes of new blocks per proxied request. This is the hot path, so it is
/// hand-written: a lock-free queue of reusable block owners, nothing allocated once warm. What it retains is
/// bounded: past <see cref="MaxRetainedBytes"/> of free blocks, returned blocks are left to the GC, so a
/// burst of large bodies does not pin memory forever. A thread that asks for it (an event loop's) also keeps up to
/// <see cref="BlocksPerThread"/> free blocks of its own.
/// </summary>
public sealed class RetainingBlockPool : MemoryPool<byte>
{
    /// <summary>
    /// A socket read fills at most one block, so the block size sets how many receive calls a large body costs:
    /// 16 KiB instead of Kestrel's 4 KiB took 1 MiB responses from 572 to 975 requests/s, and 32 KiB instead of
    /// 16 KiB took 16 KiB responses (which with their head need two 16 KiB reads) up by a fifth (bench/RESULTS.md).
    /// Only connections in the middle of an exchange hold blocks.
    /// </summary>
    public const int SocketBlockSize = 32 * 1024;

    /// <summary>Free blocks kept for reuse, in bytes.</summary>
    public const int MaxRetainedBytes = 64 * 1024 * 1024;

    /// <summary>Free blocks a thread that called <see cref="KeepBlocksOnThisThread"/> keeps for itself: 1 MiB.</summary>
    public const int BlocksPerThread = 32;

    [ThreadStatic]
    private static ThreadBlocks? t_blocks;

    private static long s_createdBytes;

    private readonly ConcurrentQueue<PinnedBlock> _free = new();
    private int _freeCount;

    public RetainingBlockPool(int blockSize = SocketBlockSize)
    {
        BlockSize = blockSize;
        MaxRetainedBlocks = MaxRetainedBytes / blockSize;
    }

    public int BlockSize { get; }

    /// <summary>Free blocks kept for reuse (<see cref="MaxRetainedBytes"/> of them).</summary>
    public int MaxRetainedBlocks { get; }

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        ThreadBlocks? own = t_blocks;
        if (own is not null && own.Pool == this && own.Count > 0)
        {
            return own.Blocks[--own.Count];
        }

        if (_free.TryDequeue(out PinnedBlock? block))
        {
            Interlocked.Decrement(ref _freeCount);
            return block;
        }

        Interlocked.Add(ref s_createdBytes, BlockSize);
        return new PinnedBlock(this);
    }

    /// <summary>
    /// Bytes of blocks every pool in the process has created: its growth, which is memory kept for reuse rather than
    /// garbage (reported apart from per-request allocation).
    /// </summary>
    public static long CreatedBytes => Interlocked.Read(ref s_createdBytes);

    /// <summary>Free blocks currently retained in the shared queue.</summary>
    public int RetainedBlocks => Volatile.Read(ref _freeCount);

    /// <summary>
    /// From now on the calling thread keeps the blocks it returns for its own next rents (up to
    /// <see cref="BlocksPerThread"/>). An event loop's thread rents and returns every block of the exchanges it
    /// runs, about eight per proxied request: from its own stack that costs no atomic operation (the shared queue
    /// costs two each way, 1% of the proxy's time in the profile), and the block it gets is the one it returned
    /// last, still in the core's cache.
    /// </summary>
    public void KeepBlocksOnThisThread() => t_blocks = new ThreadBlocks(this);

    protected override void Dispose(bool disposing) => _free.Clear();

    private void Return(PinnedBlock block)
    {
        ThreadBlocks? own = t_blocks;
        if (own is not null && own.Pool == this && own.Count < BlocksPerThread)
        {
            own.Blocks[own.Count++] = block;
            return;
        }

        if (Interlocked.Increment(ref _freeCount) <= MaxRetainedBlocks)
        {
            _free.Enqueue(block);
        }
        else
        {
            Interlocked.Decrement(ref _freeCount);
        }
    }

    private sealed class ThreadBlocks(RetainingBlockPool pool)
    {
        public readonly RetainingBlockPool Pool = pool;
        public readonly PinnedBlock[] Blocks = new PinnedBlock[BlocksPerThread];
        public int Count;
    }

    /// <summary>A block allocated pinned, so its address holds for its whole life: sockets can be given it directly.</summary>
    internal sealed unsafe class PinnedBlock : IMemoryOwner<byte>
    {
        private readonly RetainingBlockPool _pool;
        private readonly byte[] _array;

        public PinnedBlock(RetainingBlockPool pool)
        {
            _pool = pool;
            _array = GC.AllocateUninitializedArray<byte>(pool.BlockSize, pinned: true);
            Pointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
        }

        public byte* Pointer { get; }

        public Memory<byte> Memory => _array;

        public void Dispose() => _pool.Return(this);
    }
}

/// <summary>Gives Kestrel's transports a <see cref="RetainingBlockPool"/>.</summary>
public sealed class RetainingBlockPoolFactory : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new RetainingBlockPool();
}
