using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Transforms;

/// <summary>
/// <c>request_headers</c> / <c>response_headers</c> = { remove, rename, set, add }, applied in that order as the head is
/// written: a removed field is left out; a renamed one goes out under its new name; a field whose (new) name is set is
/// replaced by the set value; added fields are appended, beside any of the same name. Names compare case-insensitively.
/// </summary>
public sealed class HeaderTransform : HeadRewrite
{
    private readonly byte[][] _remove;
    private readonly (byte[] From, byte[] To)[] _rename;
    private readonly (byte[] Name, byte[] Prefix, Template Value)[] _set;
    private readonly (byte[] Prefix, Template Value)[] _add;

    public HeaderTransform(IEnumerable<string> remove, IEnumerable<KeyValuePair<string, string>> rename, IEnumerable<KeyValuePair<string, Template>> set, IEnumerable<KeyValuePair<string, Template>> add)
    {
        _remove = [.. remove.Select(Encoding.ASCII.GetBytes)];
        _rename = [.. rename.Select(pair => (Encoding.ASCII.GetBytes(pair.Key), Encoding.ASCII.GetBytes(pair.Value)))];
        _set = [.. set.Select(pair => (Encoding.ASCII.GetBytes(pair.Key), Encoding.ASCII.GetBytes(pair.Key + ": "), pair.Value))];
        _add = [.. add.Select(pair => (Encoding.ASCII.GetBytes(pair.Key + ": "), pair.Value))];
    }

    public override void WriteField(ref HeadWriter output, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, ReadOnlySpan<byte> line)
    {
        if (Contains(_remove, name))
        {
            return;
        }

        ReadOnlySpan<byte> newName = name;
        foreach ((byte[] from, byte[] to) in _rename)
        {
            if (Ascii.EqualsIgnoreCase(name, from))
            {
                newName = to;
                break;
            }
        }

        foreach ((byte[] setName, _, _) in _set)
        {
            if (Ascii.EqualsIgnoreCase(newName, setName))
            {
                return;
            }
        }

        if (newName == name)
        {
            output.Write(line);
        }
        else
        {
            output.Write(newName);
            output.Write(": "u8);
            output.Write(value);
        }

        output.Write("\r\n"u8);
    }

    public override void WriteAdded(ref HeadWriter output, Exchange exchange)
    {
        foreach ((_, byte[] prefix, Template value) in _set)
        {
            output.Write(prefix);
            value.Render(ref output, exchange);
            output.Write("\r\n"u8);
        }

        foreach ((byte[] prefix, Template value) in _add)
        {
            output.Write(prefix);
            value.Render(ref output, exchange);
            output.Write("\r\n"u8);
        }
    }

    private static bool Contains(byte[][] names, ReadOnlySpan<byte> name)
    {
        foreach (byte[] candidate in names)
        {
            if (Ascii.EqualsIgnoreCase(name, candidate))
            {
                return true;
            }
        }

        return false;
    }
}
