using System.Diagnostics.CodeAnalysis;

namespace HyperGate.Http2;

/// <summary>
/// Request streams that ended, each with its exchange pipeline, kept for any later stream of any connection: a new
/// HTTP/2 connection takes its streams from here rather than allocating them (a stream is about a dozen objects,
/// and clients open a hundred at once). Last in, first out: the stream that just ended is the one still in the
/// core's cache. Bounded for memory; past the bound, ended streams are left to the GC.
/// </summary>
internal sealed class ExchangeStreamPool
{
    public const int MaxIdleStreams = 1024;

    private readonly Stack<ExchangeStream> _idle = new();
    private readonly Lock _gate = new();

    /// <summary>Streams waiting for their next use.</summary>
    public int IdleStreams
    {
        get
        {
            lock (_gate)
            {
                return _idle.Count;
            }
        }
    }

    public bool TryRent([NotNullWhen(true)] out ExchangeStream? stream)
    {
        lock (_gate)
        {
            return _idle.TryPop(out stream);
        }
    }

    /// <summary>Keeps a stream nothing of which runs any more (its pipeline quiet), or lets it go.</summary>
    public void Return(ExchangeStream stream)
    {
        lock (_gate)
        {
            if (_idle.Count < MaxIdleStreams)
            {
                _idle.Push(stream);
                return;
            }
        }

        stream.Pipeline.Dispose();
    }
}
