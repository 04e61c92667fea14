using System.Collections.Concurrent;

namespace HyperGate.Http2;

/// <summary>
/// Request streams that ended, each with its exchange pipeline, kept for any later stream of any connection: a new
/// HTTP/2 connection takes its streams from here rather than allocating them (a stream is about a dozen objects,
/// and clients open a hundred at once). Bounded for memory; past the bound, ended streams are left to the GC.
/// </summary>
internal sealed class ExchangeStreamPool
{
    public const int MaxIdleStreams = 1024;

    private readonly ConcurrentQueue<ExchangeStream> _idle = new();
    private int _idleCount;

    /// <summary>Streams waiting for their next use.</summary>
    public int IdleStreams => Volatile.Read(ref _idleCount);

    public bool TryRent(out ExchangeStream? stream)
    {
        if (_idle.TryDequeue(out stream))
        {
            Interlocked.Decrement(ref _idleCount);
            return true;
        }

        return false;
    }

    /// <summary>Keeps a stream nothing of which runs any more (its pipeline quiet), or lets it go.</summary>
    public void Return(ExchangeStream stream)
    {
        if (Interlocked.Increment(ref _idleCount) <= MaxIdleStreams)
        {
            _idle.Enqueue(stream);
            return;
        }

        Interlocked.Decrement(ref _idleCount);
        stream.Pipeline.Dispose();
    }
}
