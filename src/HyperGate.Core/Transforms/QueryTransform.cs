using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Transforms;

/// <summary>
/// <c>request_query</c> = { remove, rename, set, add }: the query sent upstream, rewritten pair by pair in the order of
/// <see cref="HeaderTransform"/>. Names compare as sent (still encoded, case-sensitive); the client's pairs keep their
/// encoding; values from templates are percent-encoded. A query left empty is not sent at all.
/// </summary>
public sealed class QueryTransform : QueryRewrite
{
    private readonly byte[][] _remove;
    private readonly (byte[] From, byte[] To)[] _rename;
    private readonly (byte[] Name, Template Value)[] _set;
    private readonly (byte[] Name, Template Value)[] _add;

    public QueryTransform(IEnumerable<string> remove, IEnumerable<KeyValuePair<string, string>> rename, IEnumerable<KeyValuePair<string, Template>> set, IEnumerable<KeyValuePair<string, Template>> add)
    {
        _remove = [.. remove.Select(Encoding.UTF8.GetBytes)];
        _rename = [.. rename.Select(pair => (Encoding.UTF8.GetBytes(pair.Key), Encoding.UTF8.GetBytes(pair.Value)))];
        _set = [.. set.Select(pair => (Encoding.UTF8.GetBytes(pair.Key), pair.Value))];
        _add = [.. add.Select(pair => (Encoding.UTF8.GetBytes(pair.Key), pair.Value))];
    }

    public override void Write(ref HeadWriter output, ReadOnlySpan<byte> query, Exchange exchange)
    {
        bool first = true;
        foreach (QueryPair pair in QueryString.Pairs(query))
        {
            ReadOnlySpan<byte> name = pair.Name;
            if (Contains(_remove, name))
            {
                continue;
            }

            ReadOnlySpan<byte> newName = name;
            foreach ((byte[] from, byte[] to) in _rename)
            {
                if (name.SequenceEqual(from))
                {
                    newName = to;
                    break;
                }
            }

            if (IsSet(newName))
            {
                continue;
            }

            Separator(ref output, ref first);
            output.Write(newName);
            if (pair.HasValue)
            {
                output.Write("="u8);
                output.Write(pair.Value);
            }
        }

        foreach ((byte[] name, Template value) in _set)
        {
            WritePair(ref output, ref first, name, value, exchange);
        }

        foreach ((byte[] name, Template value) in _add)
        {
            WritePair(ref output, ref first, name, value, exchange);
        }
    }

    private static void WritePair(ref HeadWriter output, ref bool first, byte[] name, Template value, Exchange exchange)
    {
        Separator(ref output, ref first);
        QueryString.Encode(ref output, name);
        output.Write("="u8);
        value.Render(ref output, exchange, queryEncoded: true);
    }

    private static void Separator(ref HeadWriter output, ref bool first)
    {
        output.Write(first ? "?"u8 : "&"u8);
        first = false;
    }

    private bool IsSet(ReadOnlySpan<byte> name)
    {
        foreach ((byte[] setName, _) in _set)
        {
            if (name.SequenceEqual(setName))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Contains(byte[][] names, ReadOnlySpan<byte> name)
    {
        foreach (byte[] candidate in names)
        {
            if (name.SequenceEqual(candidate))
            {
                return true;
            }
        }

        return false;
    }
}
