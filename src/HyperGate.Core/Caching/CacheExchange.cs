using System.Buffers;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Caching;

/// <summary>
/// A cache miss or revalidation in flight: what the lookup found, for the response-head step; and, once the
/// response proves storable, the copy of its body being collected for the store. Allocated per forwarded request
/// on a caching route only (a hit allocates none).
/// </summary>
internal sealed class CacheExchange(RouteCache cache, byte[] key, ForwardReason reason) : IPhaseState, IBodySink
{
    // The body goes straight into an array of its announced length; without one (chunked), into a growing buffer.
    private byte[]? _exact;
    private int _filled;
    private GrowingBody? _growing;
    private ArrayBufferWriter<byte>? _body;
    private bool _collecting;
    private CachedResponse? _pending;

    public RouteCache Cache { get; } = cache;

    public byte[] Key { get; } = key;

    public ForwardReason Reason { get; } = reason;

    /// <summary>The stored response being revalidated (or kept for stale-if-error), when there is one.</summary>
    public CachedResponse? Stored { get; init; }

    /// <summary>The fill this request leads (other requests for the key wait on it), when it leads one.</summary>
    public Fill? Fill { get; init; }

    /// <summary>Unix seconds when the request went upstream (RFC 9111 §4.2.3 request_time).</summary>
    public long RequestTime { get; init; }

    /// <summary>Starts collecting the body of <paramref name="response"/> (built without its body yet) for the store.</summary>
    public void Collect(CachedResponse response, long expectedLength)
    {
        _pending = response;
        _collecting = true;
        if (expectedLength >= 0)
        {
            _exact = new byte[expectedLength];

            // Requests waiting on this fetch need not wait for the whole body: they stream it as it arrives.
            if (Fill is not null)
            {
                _growing = new GrowingBody(_exact);
                Fill.Stream(response, _growing);
            }
        }
        else
        {
            _body = new ArrayBufferWriter<byte>(4096);
        }
    }

    public void Append(in ReadOnlySequence<byte> data)
    {
        if (!_collecting)
        {
            return;
        }

        if (_exact is not null)
        {
            if (_filled + data.Length > _exact.Length)
            {
                _collecting = false;
                _growing?.End(whole: false);
                return;
            }

            data.CopyTo(_exact.AsSpan(_filled));
            _filled += (int)data.Length;
            _growing?.Advance(_filled);
            return;
        }

        if (_body!.WrittenCount + data.Length > Cache.Store.MaxObjectSize)
        {
            // Larger than an object may be: passed through, not stored.
            _collecting = false;
            return;
        }

        foreach (ReadOnlyMemory<byte> segment in data)
        {
            _body.Write(segment.Span);
        }
    }

    public void Complete(bool complete)
    {
        bool stored = false;
        bool whole = _exact is null || _filled == _exact.Length;
        _growing?.End(complete && _collecting && whole);
        if (complete && _collecting && whole && _pending is not null)
        {
            CachedResponse response = _pending.WithBody(_exact ?? _body!.WrittenSpan.ToArray());
            Cache.Keep(Key, response);
            Cache.Store.Counters.Count(CacheEvent.Stored);
            stored = true;
        }

        _exact = null;
        _growing = null;
        _body = null;
        _pending = null;
        _collecting = false;
        Fill?.Complete(stored, passUntil: 0);
    }

    /// <summary>The response will not be stored: waiters go upstream now, and the key is not coalesced for a while.</summary>
    public void Pass(long passUntil) => Fill?.Complete(stored: false, passUntil);

    /// <summary>However the exchange ended, waiters are released.</summary>
    public void End()
    {
        _growing?.End(whole: false);
        Fill?.Complete(stored: false, passUntil: 0);
    }
}
