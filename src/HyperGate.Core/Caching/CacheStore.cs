using System.Collections.Concurrent;
using System.IO.Hashing;
using HyperGate.Buffers;

namespace HyperGate.Caching;

/// <summary>The stored variants of one cache key (one URL): usually one; more when the responses vary.</summary>
public sealed class CacheObject(byte[] key)
{
    public byte[] Key { get; } = key;

    /// <summary>Replaced, never changed in place: a hit reads whichever array it finds, whole.</summary>
    public CachedResponse[] Variants { get; internal set; } = [];

    internal long Size;
    internal bool InMain;
    internal bool Removed;

    /// <summary>S3-FIFO's access count (0–3), bumped on hits without a lock.</summary>
    internal int Frequency;
}

/// <summary>
/// The in-memory store: a lock-free table for lookups, bounded by bytes (headers, bodies and bookkeeping) with
/// S3-FIFO eviction (a small probation queue, a main queue and a ghost list of recently evicted keys). A crawl of
/// one-off URLs passes through the small queue and leaves without touching the objects that were hit again.
/// Written here rather than taken from BitFaster.Caching: its W-TinyLFU bounds a count of entries, and this store
/// must bound bytes; the hit path here is one table lookup and one counter bump, and changes take one lock.
/// </summary>
public sealed class CacheStore
{
    private readonly ConcurrentDictionary<byte[], CacheObject> _objects = new(ByteKeyComparer.Instance);
    private readonly ConcurrentDictionary<byte[], CacheObject>.AlternateLookup<ReadOnlySpan<byte>> _lookup;
    private readonly ConcurrentDictionary<byte[], Fill> _fills = new(ByteKeyComparer.Instance);
    private readonly ConcurrentDictionary<byte[], long> _passes = new(ByteKeyComparer.Instance);
    private readonly Lock _gate = new();
    private readonly Queue<CacheObject> _small = new();
    private readonly Queue<CacheObject> _main = new();

    // Ghosts are kept as 64-bit hashes of their keys: an evicted key's array goes with its object, and a ghost costs
    // 8 bytes. Two keys sharing a hash only make one of them skip probation.
    private readonly Queue<ulong> _ghostOrder = new();
    private readonly HashSet<ulong> _ghosts = [];
    private long _smallBytes;
    private long _bytes;

    // Counted here: the table's own Count takes every one of its locks, and eviction asks on every object it evicts.
    private int _count;

    public CacheStore(long maxSize, long maxObjectSize)
    {
        MaxSize = maxSize;
        MaxObjectSize = maxObjectSize;
        _lookup = _objects.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public long MaxSize { get; }

    public long MaxObjectSize { get; }

    public CacheCounters Counters { get; } = new();

    private readonly ConcurrentDictionary<string, RouteCacheCounters> _routes = new(StringComparer.Ordinal);

    /// <summary>A route's hits and misses, kept with the store so that a reload keeping the store keeps them.</summary>
    public RouteCacheCounters CountersFor(string route) => _routes.GetOrAdd(route, _ => new RouteCacheCounters());

    public long Bytes => Interlocked.Read(ref _bytes);

    public int Objects => Volatile.Read(ref _count);

    /// <summary>The object stored under <paramref name="key"/>, counted as an access; allocates nothing.</summary>
    public CacheObject? Find(ReadOnlySpan<byte> key)
    {
        if (!_lookup.TryGetValue(key, out CacheObject? found))
        {
            return null;
        }

        if (found.Frequency < 3)
        {
            found.Frequency++;
        }

        return found;
    }

    /// <summary>
    /// Stores <paramref name="response"/> under <paramref name="key"/>, replacing the variant that answers the same
    /// requests (RFC 9111 §4.1: the same Vary values and consumer), then evicts until the store is within its size.
    /// </summary>
    public void Store(byte[] key, CachedResponse response)
    {
        if (response.Size > MaxObjectSize || response.Size > MaxSize / 2)
        {
            return;
        }

        lock (_gate)
        {
            if (!_objects.TryGetValue(key, out CacheObject? entry))
            {
                entry = new CacheObject(key);
                _objects[key] = entry;
                _count++;
                if (_ghosts.Remove(XxHash3.HashToUInt64(key)))
                {
                    // Evicted lately and wanted again: it skips probation.
                    entry.InMain = true;
                    _main.Enqueue(entry);
                }
                else
                {
                    _small.Enqueue(entry);
                }
            }

            CachedResponse[] variants = entry.Variants.Length == 0 ? [response] : WithVariant(entry.Variants, response);
            long size = EntryOverhead(key) + response.Size;
            for (int i = 0; i < variants.Length - 1; i++)
            {
                size += variants[i].Size;
            }

            Adjust(entry, size - entry.Size);
            entry.Variants = variants;
            EvictWithinSize();
        }
    }

    /// <summary>The variants with <paramref name="response"/> in place of the one answering the same requests, if any.</summary>
    private static CachedResponse[] WithVariant(CachedResponse[] variants, CachedResponse response)
    {
        // A loop, not a query: a lambda capturing the response would allocate its closure on every store.
        var kept = new List<CachedResponse>(variants.Length + 1);
        foreach (CachedResponse variant in variants)
        {
            if (!variant.IsSameVariant(response))
            {
                kept.Add(variant);
            }
        }

        kept.Add(response);
        return [.. kept];
    }

    /// <summary>What a key costs beside its responses: the object, its key array, the table's node, the queue's slot and the variants array.</summary>
    private static long EntryOverhead(byte[] key) => 64 + 24 + key.Length + 48 + 8 + 32;

    private void Adjust(CacheObject entry, long delta)
    {
        entry.Size += delta;
        Interlocked.Add(ref _bytes, delta);
        if (!entry.InMain)
        {
            _smallBytes += delta;
        }
    }

    /// <summary>S3-FIFO: probation objects not hit since they came leave (as ghosts); hit ones move to main; main ones get another lap per hit.</summary>
    private void EvictWithinSize()
    {
        while (_bytes > MaxSize)
        {
            if (_smallBytes > MaxSize / 10 && _small.TryDequeue(out CacheObject? probation))
            {
                if (probation.Removed)
                {
                    continue;
                }

                if (probation.Frequency > 0)
                {
                    _smallBytes -= probation.Size;
                    probation.InMain = true;
                    probation.Frequency = 0;
                    _main.Enqueue(probation);
                }
                else
                {
                    Evict(probation);
                    ulong ghost = XxHash3.HashToUInt64(probation.Key);
                    if (_ghosts.Add(ghost))
                    {
                        _ghostOrder.Enqueue(ghost);
                    }

                    while (_ghostOrder.Count > Math.Max(1024, _count) && _ghostOrder.TryDequeue(out ulong old))
                    {
                        _ghosts.Remove(old);
                    }
                }

                continue;
            }

            if (_main.TryDequeue(out CacheObject? resident))
            {
                if (resident.Removed)
                {
                    continue;
                }

                if (resident.Frequency > 0)
                {
                    resident.Frequency--;
                    _main.Enqueue(resident);
                }
                else
                {
                    Evict(resident);
                }

                continue;
            }

            if (!_small.TryDequeue(out CacheObject? last))
            {
                return;
            }

            if (!last.Removed)
            {
                Evict(last);
            }
        }
    }

    private void Evict(CacheObject entry)
    {
        RemoveLocked(entry);
        Counters.Count(CacheEvent.Evicted);
    }

    private void RemoveLocked(CacheObject entry)
    {
        if (entry.Removed)
        {
            return;
        }

        entry.Removed = true;
        _objects.TryRemove(new KeyValuePair<byte[], CacheObject>(entry.Key, entry));
        _count--;
        Interlocked.Add(ref _bytes, -entry.Size);
        if (!entry.InMain)
        {
            _smallBytes -= entry.Size;
        }
    }

    /// <summary>Removes the object under one key (all its variants); returns how many responses went.</summary>
    public int Remove(ReadOnlySpan<byte> key)
    {
        if (!_lookup.TryGetValue(key, out CacheObject? entry))
        {
            return 0;
        }

        lock (_gate)
        {
            int count = entry.Removed ? 0 : entry.Variants.Length;
            RemoveLocked(entry);
            return count;
        }
    }

    /// <summary>Removes every response <paramref name="match"/> selects (by key, or by response for tags); returns how many.</summary>
    public int RemoveWhere(Func<byte[], bool> keyMatches, Func<CachedResponse, bool>? responseMatches = null)
    {
        int count = 0;
        lock (_gate)
        {
            foreach (CacheObject entry in _objects.Values)
            {
                if (entry.Removed || !keyMatches(entry.Key))
                {
                    continue;
                }

                if (responseMatches is null)
                {
                    count += entry.Variants.Length;
                    RemoveLocked(entry);
                    continue;
                }

                CachedResponse[] kept = [.. entry.Variants.Where(v => !responseMatches(v))];
                if (kept.Length == entry.Variants.Length)
                {
                    continue;
                }

                count += entry.Variants.Length - kept.Length;
                if (kept.Length == 0)
                {
                    RemoveLocked(entry);
                }
                else
                {
                    Adjust(entry, EntryOverhead(entry.Key) + kept.Sum(v => v.Size) - entry.Size);
                    entry.Variants = kept;
                }
            }
        }

        return count;
    }

    /// <summary>
    /// Coalescing: the first miss for a key leads (true, and gets the fill to complete); later misses get the
    /// leader's fill to wait on. A key whose response lately proved uncacheable is not coalesced (null, false).
    /// </summary>
    public (Fill? Fill, bool Leads) JoinFill(ReadOnlySpan<byte> key, long now)
    {
        if (_passes.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(key, out long until))
        {
            if (until > now)
            {
                return (null, false);
            }

            _passes.GetAlternateLookup<ReadOnlySpan<byte>>().TryRemove(key, out _);
        }

        byte[] owned = key.ToArray();
        var fill = new Fill(this, owned);
        Fill current = _fills.GetOrAdd(owned, fill);
        return (current, current == fill);
    }

    /// <summary>The leader's response was not stored: its key is passed straight upstream for a while (Varnish's hit-for-miss).</summary>
    internal void EndFill(Fill fill, bool stored, long passUntil)
    {
        _fills.TryRemove(new KeyValuePair<byte[], Fill>(fill.Key, fill));
        if (!stored && passUntil > 0)
        {
            _passes[fill.Key] = passUntil;
        }
    }

    private readonly ConcurrentDictionary<byte[], byte> _refreshing = new(ByteKeyComparer.Instance);

    /// <summary>Whether a background refresh of the key runs; allocates nothing.</summary>
    public bool IsRefreshing(ReadOnlySpan<byte> key) => _refreshing.GetAlternateLookup<ReadOnlySpan<byte>>().ContainsKey(key);

    /// <summary>Claims the background refresh of a key: false while another one runs.</summary>
    public bool TryBeginRefresh(byte[] key) => _refreshing.TryAdd(key, 0);

    public void EndRefresh(byte[] key)
    {
        _refreshing.TryRemove(key, out _);
        Counters.Count(CacheEvent.Refreshed);
    }
}

/// <summary>A miss being fetched; requests for the same key wait for it instead of going upstream too.</summary>
public sealed class Fill(CacheStore store, byte[] key)
{
    private const int Pending = -1;

    // The signal is made only when a request waits: most misses have no one behind them.
    private TaskCompletionSource<FillOutcome>? _done;
    private int _outcome = Pending;

    public byte[] Key { get; } = key;

    /// <summary>Completes as soon as waiters can be served (the response streams into the store, or was stored), or will not be (they go upstream).</summary>
    public Task<FillOutcome> Done
    {
        get
        {
            TaskCompletionSource<FillOutcome>? done = Volatile.Read(ref _done);
            if (done is null)
            {
                var made = new TaskCompletionSource<FillOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
                done = Interlocked.CompareExchange(ref _done, made, null) ?? made;

                // An outcome set before the signal was there: the signal gets it here.
                if (Volatile.Read(ref _outcome) is var outcome and not Pending)
                {
                    done.TrySetResult((FillOutcome)outcome);
                }
            }

            return done.Task;
        }
    }

    /// <summary>The first outcome counts; a waiter's signal, if one was made, gets it.</summary>
    private void SetOutcome(FillOutcome outcome)
    {
        Interlocked.CompareExchange(ref _outcome, (int)outcome, Pending);
        Volatile.Read(ref _done)?.TrySetResult((FillOutcome)Volatile.Read(ref _outcome));
    }

    /// <summary>With <see cref="FillOutcome.Streaming"/>: the response being stored, without its body yet.</summary>
    internal CachedResponse? StreamingHead { get; private set; }

    /// <summary>With <see cref="FillOutcome.Streaming"/>: its body, as it arrives.</summary>
    internal GrowingBody? StreamingBody { get; private set; }

    /// <summary>The response is storable and its body is arriving: waiters stream it from here.</summary>
    internal void Stream(CachedResponse head, GrowingBody body)
    {
        (StreamingHead, StreamingBody) = (head, body);
        SetOutcome(FillOutcome.Streaming);
    }

    public void Complete(bool stored, long passUntil)
    {
        store.EndFill(this, stored, passUntil);
        SetOutcome(stored ? FillOutcome.Stored : FillOutcome.NotStored);
    }
}

public enum FillOutcome : byte
{
    /// <summary>Nothing was stored: waiters go upstream themselves.</summary>
    NotStored,

    /// <summary>The response is in the store.</summary>
    Stored,

    /// <summary>The response is being stored as its body arrives; waiters can stream it.</summary>
    Streaming,
}

/// <summary>What the cache does, counted for <c>hypergate_cache_events_total{kind}</c> (the kind is the snake_case name).</summary>
public enum CacheEvent
{
    Stored,
    StaleServed,

    /// <summary>A revalidation the origin answered 304.</summary>
    Revalidated,

    /// <summary>A revalidation the origin answered with a new response.</summary>
    RevalidationChanged,

    /// <summary>A miss that waited for another request's fetch of the same key.</summary>
    Coalesced,

    /// <summary>A request forwarded without a lookup or a store (unsafe methods, ranges).</summary>
    Passed,
    Evicted,

    /// <summary>A background refresh (stale-while-revalidate) that ended, however.</summary>
    Refreshed,

    /// <summary>A fleet-tier lookup that found the key.</summary>
    FleetHit,
    FleetMiss,

    /// <summary>A fleet-tier lookup Redis did not answer within <c>redis_timeout</c> (the request went on without it).</summary>
    FleetTimeout,
    FleetError,

    /// <summary>A response written to the fleet tier.</summary>
    FleetWritten,

    /// <summary>A purge another instance published, applied here.</summary>
    FleetPurgeReceived,
}

/// <summary>What the cache did, by <see cref="CacheEvent"/>.</summary>
public sealed class CacheCounters
{
    private readonly long[] _counts = new long[Enum.GetValues<CacheEvent>().Length];

    public long this[CacheEvent kind] => Interlocked.Read(ref _counts[(int)kind]);

    public void Count(CacheEvent kind) => Interlocked.Increment(ref _counts[(int)kind]);
}

/// <summary>One route's lookups: answered from the store, or forwarded.</summary>
public sealed class RouteCacheCounters
{
    private long _hits, _misses;

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public void Hit() => Interlocked.Increment(ref _hits);

    public void Miss() => Interlocked.Increment(ref _misses);
}
