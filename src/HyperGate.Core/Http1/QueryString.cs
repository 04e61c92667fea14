using System.Buffers;

namespace HyperGate.Http1;

/// <summary>
/// Reads an application/x-www-form-urlencoded query (the WHATWG URL standard's form, which every framework parses):
/// pairs separated by '&amp;', name and value by the first '='. Names are compared as sent (still encoded); values
/// are decoded on demand. Nothing allocates.
/// </summary>
public static class QueryString
{
    /// <summary>Finds the first parameter named <paramref name="name"/> in <paramref name="query"/> (with or without its '?'); its raw value.</summary>
    public static bool TryFind(ReadOnlySpan<byte> query, ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        foreach (QueryPair pair in Pairs(query))
        {
            if (pair.Name.SequenceEqual(name))
            {
                value = pair.Value;
                return true;
            }
        }

        value = [];
        return false;
    }

    /// <summary>The query's pairs in order (with or without its '?'); empty pairs ("a&amp;&amp;b") are skipped.</summary>
    public static PairEnumerator Pairs(ReadOnlySpan<byte> query) => new(!query.IsEmpty && query[0] == '?' ? query[1..] : query);

    public ref struct PairEnumerator(ReadOnlySpan<byte> rest)
    {
        private ReadOnlySpan<byte> _rest = rest;

        public QueryPair Current { get; private set; }

        public readonly PairEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            while (!_rest.IsEmpty)
            {
                int end = _rest.IndexOf((byte)'&');
                ReadOnlySpan<byte> pair = end < 0 ? _rest : _rest[..end];
                _rest = end < 0 ? [] : _rest[(end + 1)..];
                if (pair.IsEmpty)
                {
                    continue;
                }

                int equals = pair.IndexOf((byte)'=');
                Current = new QueryPair(equals < 0 ? pair : pair[..equals], equals < 0 ? [] : pair[(equals + 1)..], equals >= 0);
                return true;
            }

            return false;
        }
    }

    /// <summary>Percent-decodes <paramref name="raw"/> ('+' is a space) into <paramref name="destination"/> (at least as long); returns the length. A malformed escape stays as it is.</summary>
    public static int Decode(ReadOnlySpan<byte> raw, Span<byte> destination)
    {
        int written = 0;
        for (int i = 0; i < raw.Length; i++)
        {
            byte b = raw[i];
            if (b == '+')
            {
                b = (byte)' ';
            }
            else if (b == '%' && i + 2 < raw.Length && HexValue(raw[i + 1]) is int high and >= 0 && HexValue(raw[i + 2]) is int low and >= 0)
            {
                b = (byte)((high << 4) | low);
                i += 2;
            }

            destination[written++] = b;
        }

        return written;
    }

    /// <summary>RFC 3986 §2.3 unreserved characters: the only ones a value is written with unencoded.</summary>
    private static readonly SearchValues<byte> Unreserved = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"u8);

    /// <summary>Writes <paramref name="value"/> percent-encoded (every byte but the unreserved ones), for a query parameter.</summary>
    public static void Encode<TWriter>(ref TWriter output, scoped ReadOnlySpan<byte> value)
        where TWriter : ISpanWriter, allows ref struct
    {
        Span<byte> span = output.GetSpan(value.Length * 3);
        int written = 0;
        foreach (byte b in value)
        {
            if (Unreserved.Contains(b))
            {
                span[written++] = b;
            }
            else
            {
                span[written++] = (byte)'%';
                span[written++] = "0123456789ABCDEF"u8[b >> 4];
                span[written++] = "0123456789ABCDEF"u8[b & 0xF];
            }
        }

        output.Advance(written);
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };
}

/// <summary>One name=value pair of a query, as sent (still encoded); <see cref="HasValue"/> is false for a bare name.</summary>
public readonly ref struct QueryPair(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, bool hasValue)
{
    public ReadOnlySpan<byte> Name { get; } = name;

    public ReadOnlySpan<byte> Value { get; } = value;

    public bool HasValue { get; } = hasValue;
}
