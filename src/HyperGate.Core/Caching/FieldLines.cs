namespace HyperGate.Caching;

/// <summary>
/// The field lines of a stored head, kept as one array of "Name: value\r\n" lines (one object per response rather
/// than three per field: the store's objects are what the collector walks). Values never hold CR or LF: the
/// parsers refuse them.
/// </summary>
public readonly ref struct FieldLines(ReadOnlySpan<byte> block)
{
    private readonly ReadOnlySpan<byte> _block = block;

    public Enumerator GetEnumerator() => new(_block);

    public ref struct Enumerator(ReadOnlySpan<byte> block)
    {
        private ReadOnlySpan<byte> _rest = block;

        public FieldLine Current { get; private set; }

        public bool MoveNext()
        {
            int end = _rest.IndexOf("\r\n"u8);
            if (end < 0)
            {
                return false;
            }

            ReadOnlySpan<byte> line = _rest[..end];
            _rest = _rest[(end + 2)..];
            int colon = line.IndexOf((byte)':');
            Current = new FieldLine(line[..colon], line[(colon + 2)..], line);
            return true;
        }
    }
}

/// <summary>One stored field: its name, its value, and the whole line without its CRLF.</summary>
public readonly ref struct FieldLine(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, ReadOnlySpan<byte> line)
{
    public ReadOnlySpan<byte> Name { get; } = name;

    public ReadOnlySpan<byte> Value { get; } = value;

    public ReadOnlySpan<byte> Line { get; } = line;
}
