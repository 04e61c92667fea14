namespace HyperGate.Http2.Hpack;

/// <summary>
/// RFC 7541 §5.2 and Appendix B: the Huffman code of string literals. The code is canonical (codes of one length
/// are consecutive, in symbol order, and shorter codes come first), so it is defined here by each symbol's code
/// length alone and the codes are derived from them; decoding walks the code one bit at a time against the first
/// code of each length.
/// </summary>
internal static class Huffman
{
    public const int EndOfString = 256;

    // Appendix B, the "len" column: symbols by code length.
    private static readonly (int Length, int[] Symbols)[] SymbolsByLength =
    [
        (5, [.. "012aceiost"u8.ToArray().Select(b => (int)b)]),
        (6, [.. " %-./3456789=A_bdfghlmnpru"u8.ToArray().Select(b => (int)b)]),
        (7, [.. ":BCDEFGHIJKLMNOPQRSTUVWYjkqvwxyz"u8.ToArray().Select(b => (int)b)]),
        (8, [.. "&*,;XZ"u8.ToArray().Select(b => (int)b)]),
        (10, [.. "!\"()?"u8.ToArray().Select(b => (int)b)]),
        (11, [.. "'+|"u8.ToArray().Select(b => (int)b)]),
        (12, [.. "#>"u8.ToArray().Select(b => (int)b)]),
        (13, [0, .. "$@[]~"u8.ToArray().Select(b => (int)b)]),
        (14, [.. "^}"u8.ToArray().Select(b => (int)b)]),
        (15, [.. "<`{"u8.ToArray().Select(b => (int)b)]),
        (19, ['\\', 195, 208]),
        (20, [128, 130, 131, 162, 184, 194, 224, 226]),
        (21, [153, 161, 167, 172, 176, 177, 179, 209, 216, 217, 227, 229, 230]),
        (22, [129, 132, 133, 134, 136, 146, 154, 156, 160, 163, 164, 169, 170, 173, 178, 181, 185, 186, 187, 189, 190, 196, 198, 228, 232, 233]),
        (23, [1, 135, 137, 138, 139, 140, 141, 143, 147, 149, 150, 151, 152, 155, 157, 158, 165, 166, 168, 174, 175, 180, 182, 183, 188, 191, 197, 231, 239]),
        (24, [9, 142, 144, 145, 148, 159, 171, 206, 215, 225, 236, 237]),
        (25, [199, 207, 234, 235]),
        (26, [192, 193, 200, 201, 202, 205, 210, 213, 218, 219, 238, 240, 242, 243, 255]),
        (27, [203, 204, 211, 212, 214, 221, 222, 223, 241, 244, 245, 246, 247, 248, 250, 251, 252, 253, 254]),
        (28, [2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127, 220, 249]),
        (30, [10, 13, 22, EndOfString]),
    ];

    private const int MaxLength = 30;

    /// <summary>Each symbol's code (right-aligned) and its length in bits.</summary>
    private static readonly (uint Code, int Length)[] Codes = new (uint, int)[257];

    // For decoding: per length, the first code of that length, how many codes have it, and where its symbols start in
    // the symbols listed in code order.
    private static readonly uint[] FirstCode = new uint[MaxLength + 1];
    private static readonly int[] CountOfLength = new int[MaxLength + 1];
    private static readonly int[] FirstSymbolIndex = new int[MaxLength + 1];
    private static readonly int[] SymbolsInCodeOrder = new int[257];

    static Huffman()
    {
        uint code = 0;
        int previousLength = 0;
        int position = 0;
        foreach ((int length, int[] symbols) in SymbolsByLength)
        {
            code <<= length - previousLength;
            previousLength = length;
            FirstCode[length] = code;
            CountOfLength[length] = symbols.Length;
            FirstSymbolIndex[length] = position;
            foreach (int symbol in symbols.Order())
            {
                Codes[symbol] = (code++, length);
                SymbolsInCodeOrder[position++] = symbol;
            }
        }
    }

    /// <summary>The code of <paramref name="symbol"/> (0-256) and its length: for tests and the encoder.</summary>
    public static (uint Code, int Length) CodeOf(int symbol) => Codes[symbol];

    /// <summary>How many bytes <paramref name="value"/> takes Huffman-encoded.</summary>
    public static int EncodedLength(ReadOnlySpan<byte> value)
    {
        long bits = 0;
        foreach (byte b in value)
        {
            bits += Codes[b].Length;
        }

        return (int)((bits + 7) >> 3);
    }

    /// <summary>Encodes <paramref name="value"/> into <paramref name="destination"/> (at least <see cref="EncodedLength"/> bytes), padded with the EOS prefix.</summary>
    public static int Encode(ReadOnlySpan<byte> value, Span<byte> destination)
    {
        ulong pending = 0;
        int pendingBits = 0;
        int written = 0;
        foreach (byte b in value)
        {
            (uint code, int length) = Codes[b];
            pending = pending << length | code;
            pendingBits += length;
            while (pendingBits >= 8)
            {
                pendingBits -= 8;
                destination[written++] = (byte)(pending >> pendingBits);
            }
        }

        if (pendingBits > 0)
        {
            // §5.2: padding is the most significant bits of the EOS code, all ones.
            destination[written++] = (byte)(pending << (8 - pendingBits) | (0xFFu >> pendingBits));
        }

        return written;
    }

    /// <summary>
    /// Decodes <paramref name="encoded"/> into <paramref name="destination"/>; false when it is not a valid encoding
    /// (§5.2: an EOS symbol, padding longer than 7 bits or not the EOS prefix) or does not fit.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> encoded, Span<byte> destination, out int written)
    {
        written = 0;
        uint code = 0;
        int length = 0;
        bool allOnes = true;
        foreach (byte b in encoded)
        {
            for (int bit = 7; bit >= 0; bit--)
            {
                uint next = (uint)(b >> bit) & 1;
                code = code << 1 | next;
                allOnes &= next == 1;
                length++;
                if (length > MaxLength)
                {
                    return false;
                }

                uint offset = code - FirstCode[length];
                if (CountOfLength[length] == 0 || offset >= (uint)CountOfLength[length])
                {
                    continue;
                }

                int symbol = SymbolsInCodeOrder[FirstSymbolIndex[length] + (int)offset];
                if (symbol == EndOfString || written == destination.Length)
                {
                    return false;
                }

                destination[written++] = (byte)symbol;
                code = 0;
                length = 0;
                allOnes = true;
            }
        }

        // What is left must be padding: fewer than 8 bits, all ones.
        return length < 8 && allOnes;
    }
}
