using System.Buffers;
using HyperGate.Buffers;

namespace HyperGate.Tests.Buffers;

public class RetainingBlockPoolTests
{
    [Fact]
    public void Rent_AfterReturn_ReusesTheSameBlock()
    {
        using var pool = new RetainingBlockPool();
        IMemoryOwner<byte> first = pool.Rent();
        Memory<byte> memory = first.Memory;
        first.Dispose();

        IMemoryOwner<byte> second = pool.Rent();
        Assert.Same(first, second);
        Assert.True(memory.Span == second.Memory.Span);
        Assert.Equal(RetainingBlockPool.SocketBlockSize, second.Memory.Length);
    }

    [Fact]
    public void Return_BeyondTheBound_IsNotRetained()
    {
        using var pool = new RetainingBlockPool();
        IMemoryOwner<byte>[] blocks = Enumerable.Range(0, pool.MaxRetainedBlocks + 10).Select(_ => pool.Rent()).ToArray();
        foreach (IMemoryOwner<byte> block in blocks)
        {
            block.Dispose();
        }

        Assert.Equal(pool.MaxRetainedBlocks, pool.RetainedBlocks);
    }

    [Fact]
    public void AThreadThatKeepsBlocks_RentsTheLastItReturned_AndSharesWhatItCannotKeep()
    {
        using var pool = new RetainingBlockPool();
        IMemoryOwner<byte>[] blocks = [];
        IMemoryOwner<byte>? rentedByKeeper = null;
        int sharedAfterReturns = -1;

        // A thread of its own, as an event loop's: what it keeps is invisible to every other thread.
        var keeper = new Thread(() =>
        {
            pool.KeepBlocksOnThisThread();
            blocks = Enumerable.Range(0, RetainingBlockPool.BlocksPerThread + 3).Select(_ => pool.Rent()).ToArray();
            foreach (IMemoryOwner<byte> block in blocks)
            {
                block.Dispose();
            }

            sharedAfterReturns = pool.RetainedBlocks;
            rentedByKeeper = pool.Rent();
        });
        keeper.Start();
        keeper.Join();

        Assert.Equal(3, sharedAfterReturns);
        Assert.Same(blocks[RetainingBlockPool.BlocksPerThread - 1], rentedByKeeper);
        Assert.Same(blocks[RetainingBlockPool.BlocksPerThread], pool.Rent());
    }

    [Fact]
    public void APoolOfSmallerBlocks_RentsThatSize_AndRetainsTheSameBytes()
    {
        using var pool = new RetainingBlockPool(blockSize: 16 * 1024);
        Assert.Equal(16 * 1024, pool.Rent().Memory.Length);
        Assert.Equal(16 * 1024, pool.MaxBufferSize);
        Assert.Equal(RetainingBlockPool.MaxRetainedBytes / (16 * 1024), pool.MaxRetainedBlocks);
    }

    [Fact]
    public void Rent_LargerThanABlock_Throws()
    {
        using var pool = new RetainingBlockPool();
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(pool.BlockSize + 1));
    }
}
