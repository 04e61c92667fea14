namespace HyperGate.Http2.Hpack;

/// <summary>Receives the fields of a header block as they are decoded; the spans are valid only during the call.</summary>
internal interface IHeaderFieldSink
{
    void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
}

internal enum HpackResult : byte
{
    Ok,

    /// <summary>Not a valid HPACK block (RFC 9113 §4.3: a connection error of type COMPRESSION_ERROR).</summary>
    Invalid,

    /// <summary>A single string is longer than the decoder's bound; the table state is lost with it.</summary>
    TooLarge,
}

/// <summary>
/// RFC 7541: decodes header blocks of one connection, keeping its dynamic table. Strings are handed to the sink
/// straight from the block when sent as they are, or from one of two reused buffers when Huffman-coded: nothing is
/// allocated per block.
/// </summary>
internal sealed class HpackDecoder(int maxTableSize, int maxStringLength)
{
    private readonly HpackDynamicTable _table = new(maxTableSize);
    private byte[] _name = new byte[256];
    private byte[] _value = new byte[1024];

    public HpackDynamicTable Table => _table;

    /// <summary>Decodes one whole header block (a HEADERS frame's fragment and its CONTINUATIONs, joined).</summary>
    public HpackResult Decode(ReadOnlySpan<byte> block, IHeaderFieldSink sink)
    {
        bool fieldSeen = false;
        while (!block.IsEmpty)
        {
            byte first = block[0];
            if ((first & 0x80) != 0)
            {
                // §6.1: an indexed field.
                if (!TryReadInteger(ref block, 7, out int index) || !TryGetEntry(index, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value))
                {
                    return HpackResult.Invalid;
                }

                sink.OnField(name, value);
                fieldSeen = true;
                continue;
            }

            if ((first & 0xE0) == 0x20)
            {
                // §6.3: a table size update, only before the block's first field (§4.2), never above what we announced.
                if (fieldSeen || !TryReadInteger(ref block, 5, out int size) || size > _table.MaxCapacity)
                {
                    return HpackResult.Invalid;
                }

                _table.Resize(size);
                continue;
            }

            // §6.2: a literal field, with incremental indexing (01), without (0000) or never indexed (0001).
            bool indexed = (first & 0xC0) == 0x40;
            HpackResult result = ReadLiteral(ref block, indexed ? 6 : 4, out ReadOnlySpan<byte> literalName, out ReadOnlySpan<byte> literalValue);
            if (result != HpackResult.Ok)
            {
                return result;
            }

            sink.OnField(literalName, literalValue);
            fieldSeen = true;
            if (indexed)
            {
                _table.Add(literalName, literalValue);
            }
        }

        return HpackResult.Ok;
    }

    private HpackResult ReadLiteral(ref ReadOnlySpan<byte> block, int prefix, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (!TryReadInteger(ref block, prefix, out int nameIndex))
        {
            name = default;
            return HpackResult.Invalid;
        }

        HpackResult result;
        if (nameIndex == 0)
        {
            result = ReadString(ref block, ref _name, out name);
            if (result != HpackResult.Ok)
            {
                return result;
            }
        }
        else if (!TryGetEntry(nameIndex, out name, out _))
        {
            return HpackResult.Invalid;
        }

        return ReadString(ref block, ref _value, out value);
    }

    /// <summary>§5.2: a string literal, Huffman-decoded into <paramref name="scratch"/> when its H bit is set.</summary>
    private HpackResult ReadString(ref ReadOnlySpan<byte> block, ref byte[] scratch, out ReadOnlySpan<byte> text)
    {
        text = default;
        if (block.IsEmpty)
        {
            return HpackResult.Invalid;
        }

        bool huffman = (block[0] & 0x80) != 0;
        if (!TryReadInteger(ref block, 7, out int length) || length > block.Length)
        {
            return HpackResult.Invalid;
        }

        ReadOnlySpan<byte> raw = block[..length];
        block = block[length..];
        if (!huffman)
        {
            if (length > maxStringLength)
            {
                return HpackResult.TooLarge;
            }

            text = raw;
            return HpackResult.Ok;
        }

        // The shortest code is 5 bits: at most 8/5 symbols per byte.
        int room = Math.Min(length * 8 / 5 + 1, maxStringLength);
        if (room > scratch.Length)
        {
            scratch = new byte[Math.Min(Math.Max(room, scratch.Length * 2), maxStringLength)];
        }

        if (!Huffman.TryDecode(raw, scratch, out int written))
        {
            // Out of room only when the bound cut the buffer short of the string.
            return written == scratch.Length ? HpackResult.TooLarge : HpackResult.Invalid;
        }

        text = scratch.AsSpan(0, written);
        return HpackResult.Ok;
    }

    private bool TryGetEntry(int index, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        if (index >= 1 && index <= HpackStaticTable.Count)
        {
            name = HpackStaticTable.Name(index);
            value = HpackStaticTable.Value(index);
            return true;
        }

        int dynamicIndex = index - HpackStaticTable.Count;
        if (index == 0 || dynamicIndex > _table.Count)
        {
            name = value = default;
            return false;
        }

        (ReadOnlyMemory<byte> entryName, ReadOnlyMemory<byte> entryValue) = _table[dynamicIndex];
        name = entryName.Span;
        value = entryValue.Span;
        return true;
    }

    /// <summary>§5.1: an integer with an N-bit prefix; bounded well below overflow (no field needs more).</summary>
    public static bool TryReadInteger(ref ReadOnlySpan<byte> block, int prefix, out int value)
    {
        int max = (1 << prefix) - 1;
        value = block[0] & max;
        int position = 1;
        if (value == max)
        {
            int shift = 0;
            while (true)
            {
                if (position == block.Length || shift > 21)
                {
                    return false;
                }

                byte next = block[position++];
                value += (next & 0x7F) << shift;
                shift += 7;
                if ((next & 0x80) == 0)
                {
                    break;
                }
            }
        }

        block = block[position..];
        return true;
    }
}
