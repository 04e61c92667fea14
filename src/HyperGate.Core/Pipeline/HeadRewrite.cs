using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Pipeline;

/// <summary>
/// A step of the upstream-request or response-head phase that rewrites a head's fields as it is written: each
/// received field goes out unchanged, renamed or not at all, and the step's own fields follow. Applied while the
/// head is written, so it costs no copy of the head and no allocation.
/// </summary>
public abstract class HeadRewrite
{
    /// <summary>Writes one received field (its name, value and whole line) as the rewrite says.</summary>
    public abstract void WriteField(ref HeadWriter output, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, ReadOnlySpan<byte> line);

    /// <summary>Writes the fields the rewrite adds, rendered for this exchange.</summary>
    public abstract void WriteAdded(ref HeadWriter output, Exchange exchange);

    /// <summary>Writes every field of <paramref name="head"/> that is not dropped, through the rewrite, then the added fields.</summary>
    public void WriteFields(ref HeadWriter output, MessageHead head, Exchange exchange)
    {
        ReadOnlySpan<byte> raw = head.Raw;
        foreach (ref readonly HeaderField field in head.Headers)
        {
            if (!field.Dropped)
            {
                WriteField(ref output, head.NameOf(field), head.ValueOf(field), raw.Slice(field.NameStart, field.ValueStart + field.ValueLength - field.NameStart));
            }
        }

        WriteAdded(ref output, exchange);
    }
}

/// <summary>A step of the upstream-request phase that rewrites the query sent upstream (the client's query is given with its '?', or empty).</summary>
public abstract class QueryRewrite
{
    public abstract void Write(ref HeadWriter output, ReadOnlySpan<byte> query, Exchange exchange);
}
