namespace HyperGate.Http2.Hpack;

/// <summary>
/// RFC 7541 §2.3.2 and §4: the dynamic table, newest entry first. Entries are appended and evicted oldest first, so
/// the live bytes are always one contiguous range of one buffer; when an entry does not fit after it, the range
/// moves to the buffer's start. Nothing is allocated per entry.
/// </summary>
internal sealed class HpackDynamicTable
{
    /// <summary>§4.1: each entry counts its name, its value and 32 bytes.</summary>
    public const int EntryOverhead = 32;

    private readonly byte[] _bytes;
    private readonly (int Start, int NameLength, int ValueLength)[] _entries;
    private int _first;
    private int _start;
    private int _end;

    public HpackDynamicTable(int maxCapacity)
    {
        MaxCapacity = maxCapacity;
        MaxSize = maxCapacity;
        _bytes = new byte[maxCapacity];
        _entries = new (int, int, int)[maxCapacity / EntryOverhead + 1];
    }

    /// <summary>The largest size a table size update may set (the size announced in SETTINGS).</summary>
    public int MaxCapacity { get; }

    /// <summary>The table's current maximum size (§4.2).</summary>
    public int MaxSize { get; private set; }

    /// <summary>The table's size: its entries' bytes plus their overheads.</summary>
    public int Size { get; private set; }

    public int Count { get; private set; }

    /// <summary>The entry at <paramref name="index"/>, 1 being the newest.</summary>
    public (ReadOnlyMemory<byte> Name, ReadOnlyMemory<byte> Value) this[int index]
    {
        get
        {
            (int start, int nameLength, int valueLength) = _entries[(_first + Count - index) % _entries.Length];
            return (_bytes.AsMemory(start, nameLength), _bytes.AsMemory(start + nameLength, valueLength));
        }
    }

    /// <summary>§4.3: a new maximum size, evicting entries until the table fits.</summary>
    public void Resize(int maxSize)
    {
        MaxSize = maxSize;
        Evict(0);
    }

    /// <summary>§4.4: adds an entry, evicting old ones; an entry larger than the table empties it and is not added.</summary>
    public void Add(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        int size = name.Length + value.Length + EntryOverhead;
        Evict(size);
        if (size > MaxSize)
        {
            return;
        }

        int length = name.Length + value.Length;
        if (_end + length > _bytes.Length)
        {
            _bytes.AsSpan(_start, _end - _start).CopyTo(_bytes);
            for (int i = 0; i < Count; i++)
            {
                ref (int Start, int NameLength, int ValueLength) entry = ref _entries[(_first + i) % _entries.Length];
                entry.Start -= _start;
            }

            _end -= _start;
            _start = 0;
        }

        name.CopyTo(_bytes.AsSpan(_end));
        value.CopyTo(_bytes.AsSpan(_end + name.Length));
        _entries[(_first + Count) % _entries.Length] = (_end, name.Length, value.Length);
        _end += length;
        Count++;
        Size += size;
    }

    private void Evict(int room)
    {
        while (Count > 0 && Size + room > MaxSize)
        {
            (int start, int nameLength, int valueLength) = _entries[_first];
            Size -= nameLength + valueLength + EntryOverhead;
            _start = start + nameLength + valueLength;
            _first = (_first + 1) % _entries.Length;
            Count--;
        }

        if (Count == 0)
        {
            _start = _end = 0;
        }
    }
}
