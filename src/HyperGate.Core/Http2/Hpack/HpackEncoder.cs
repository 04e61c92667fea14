namespace HyperGate.Http2.Hpack;

/// <summary>
/// RFC 7541: encodes the gateway's header blocks. Fields are literals without indexing (§6.2.2), named by their
/// static-table index where it has them, values Huffman-coded when that is shorter: the encoder keeps no dynamic
/// table, so blocks of concurrent streams can be encoded in any order and their decoding never depends on another.
/// </summary>
internal static class HpackEncoder
{
    /// <summary>The most bytes a field takes: prefix integers of up to 5 bytes each, then the strings.</summary>
    public static int MaxFieldLength(int nameLength, int valueLength) => nameLength + valueLength + 12;

    /// <summary>Writes <c>:status</c>: one byte for the statuses the static table holds (§6.1).</summary>
    public static int WriteStatus(int status, Span<byte> destination)
    {
        int index = HpackStaticTable.IndexOfStatus(status);
        if (index != 0)
        {
            destination[0] = (byte)(0x80 | index);
            return 1;
        }

        // A literal with the name of index 8 (":status"), three digits.
        destination[0] = 0x08;
        destination[1] = 3;
        destination[2] = (byte)('0' + status / 100);
        destination[3] = (byte)('0' + status / 10 % 10);
        destination[4] = (byte)('0' + status % 10);
        return 5;
    }

    /// <summary>Writes a field (its name already lowercase) as a literal without indexing.</summary>
    public static int WriteField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, Span<byte> destination)
    {
        int written;
        int nameIndex = HpackStaticTable.IndexOfName(name);
        if (nameIndex != 0)
        {
            written = WriteInteger(nameIndex, 4, 0x00, destination);
        }
        else
        {
            destination[0] = 0x00;
            written = 1 + WriteString(name, destination[1..], huffman: false);
        }

        return written + WriteString(value, destination[written..], huffman: true);
    }

    /// <summary>§5.2: a string, Huffman-coded when asked and shorter.</summary>
    public static int WriteString(ReadOnlySpan<byte> value, Span<byte> destination, bool huffman)
    {
        int encodedLength = huffman ? Huffman.EncodedLength(value) : int.MaxValue;
        if (encodedLength < value.Length)
        {
            int prefix = WriteInteger(encodedLength, 7, 0x80, destination);
            return prefix + Huffman.Encode(value, destination[prefix..]);
        }

        int length = WriteInteger(value.Length, 7, 0x00, destination);
        value.CopyTo(destination[length..]);
        return length + value.Length;
    }

    /// <summary>§5.1: an integer with an N-bit prefix, the first byte's other bits set to <paramref name="pattern"/>.</summary>
    public static int WriteInteger(int value, int prefix, byte pattern, Span<byte> destination)
    {
        int max = (1 << prefix) - 1;
        if (value < max)
        {
            destination[0] = (byte)(pattern | value);
            return 1;
        }

        destination[0] = (byte)(pattern | max);
        value -= max;
        int written = 1;
        while (value >= 0x80)
        {
            destination[written++] = (byte)(value & 0x7F | 0x80);
            value >>= 7;
        }

        destination[written++] = (byte)value;
        return written;
    }
}
