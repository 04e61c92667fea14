using System.Collections.Concurrent;
using HyperGate.Buffers;

namespace HyperGate.RateLimiting;

/// <summary>
/// The per-key entries of one limit. Lookups are lock-free and allocation-free (the dictionary is searched with
/// the request's key bytes); only a key seen for the first time allocates its entry. Memory stays bounded under
/// key explosion: a periodic sweep drops idle entries (ones whose state is "full bucket" or "empty window", so
/// forgetting them changes nothing), and at the cap a new key first sweeps, then evicts arbitrary entries.
/// </summary>
internal sealed class KeyedLimitTable<TEntry> where TEntry : KeyedEntry
{
    private readonly ConcurrentDictionary<byte[], TEntry> _entries = new(ByteKeyComparer.Instance);
    private readonly ConcurrentDictionary<byte[], TEntry>.AlternateLookup<ReadOnlySpan<byte>> _lookup;
    private readonly EntryFactory _create;
    private readonly Lock _sweepLock = new();
    private int _count;

    public delegate TEntry EntryFactory(ReadOnlySpan<byte> key);

    public KeyedLimitTable(EntryFactory create, int maxKeys)
    {
        _create = create;
        MaxKeys = maxKeys;
        _lookup = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int MaxKeys { get; }

    public int Count => Volatile.Read(ref _count);

    /// <summary>Entries dropped because the cap was reached while they still held state.</summary>
    public long Evictions { get; private set; }

    /// <summary>The entry for <paramref name="key"/>, created when new; never one the sweep is retiring.</summary>
    public TEntry Get(ReadOnlySpan<byte> key, long now)
    {
        while (true)
        {
            if (_lookup.TryGetValue(key, out TEntry? entry))
            {
                if (!entry.Retiring)
                {
                    return entry;
                }

                // The sweep is deciding whether to drop it; it finishes in a few instructions either way.
                Thread.SpinWait(1);
                continue;
            }

            if (Count >= MaxKeys)
            {
                MakeRoom(now);
            }

            entry = _create(key);
            if (_lookup.TryAdd(key, entry))
            {
                Interlocked.Increment(ref _count);
                return entry;
            }
        }
    }

    /// <summary>
    /// Drops idle entries. An entry is marked retiring, then checked: a request that updated it concurrently is
    /// either seen here (the entry stays) or sees the mark and starts over on a fresh entry. Both sides use
    /// full fences, so no admission is ever recorded on an entry that was dropped.
    /// </summary>
    public int Sweep(long now)
    {
        lock (_sweepLock)
        {
            return SweepLocked(now, evictDownTo: int.MaxValue);
        }
    }

    private void MakeRoom(long now)
    {
        lock (_sweepLock)
        {
            if (Count >= MaxKeys)
            {
                // Evict to 7/8 of the cap so the next thousands of new keys do not each pay for a sweep.
                SweepLocked(now, evictDownTo: MaxKeys - Math.Max(1, MaxKeys / 8));
            }
        }
    }

    private int SweepLocked(long now, int evictDownTo)
    {
        int removed = 0;
        foreach (KeyValuePair<byte[], TEntry> pair in _entries)
        {
            if (pair.Value.IsIdle(now) && TryRetire(pair, now))
            {
                removed++;
            }
        }

        foreach (KeyValuePair<byte[], TEntry> pair in _entries)
        {
            if (Count <= evictDownTo)
            {
                break;
            }

            // Over the cap with live state: forgetting a key gives it a fresh quota, the documented cost of a cap.
            pair.Value.BeginRetire();
            if (_entries.TryRemove(pair))
            {
                Interlocked.Decrement(ref _count);
                Evictions++;
                removed++;
            }
        }

        return removed;
    }

    private bool TryRetire(KeyValuePair<byte[], TEntry> pair, long now)
    {
        pair.Value.BeginRetire();
        if (!pair.Value.IsIdle(now) || !_entries.TryRemove(pair))
        {
            pair.Value.CancelRetire();
            return false;
        }

        Interlocked.Decrement(ref _count);
        return true;
    }
}
