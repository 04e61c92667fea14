using System.Buffers;
using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Routing;

namespace HyperGate.Transforms;

/// <summary>What a template variable stands for.</summary>
public enum TemplateVariable : byte
{
    Literal,
    ClientIp,
    Consumer,
    Claim,
    Route,
    PathParameter,
    QueryParameter,
    Header,
    RequestId,
}

/// <summary>
/// A value with variables, compiled at config load: <c>"{consumer}"</c>, <c>"tenant-{path.tenant}"</c>,
/// <c>"{claim.sub}"</c>… (<c>{{</c> and <c>}}</c> stand for braces). An unknown variable, a path parameter the route
/// lacks or an identity variable on a route without authentication is a <c>check</c> error. Rendering writes straight
/// into the head being written: nothing allocates. Values from the request and the identity are made safe for a field
/// value: control characters other than tab are left out, so no template can split a header.
/// </summary>
public sealed class Template
{
    private readonly Part[] _parts;

    private Template(Part[] parts, string text)
    {
        _parts = parts;
        Text = text;
    }

    public string Text { get; }

    /// <summary>True when the template has no variables (its value is the same for every request).</summary>
    public bool IsConstant => _parts.All(p => p.Variable == TemplateVariable.Literal);

    /// <summary>A constant template's value, its doubled braces made single.</summary>
    public string Unescaped => string.Concat(_parts.Select(p => Encoding.UTF8.GetString(p.Bytes)));

    /// <summary>The variables a template can name, for error hints.</summary>
    public const string Known = "{client_ip}, {consumer}, {claim.NAME}, {route}, {path.NAME}, {query.NAME}, {header.NAME}, {request_id}";

    /// <summary>Compiles <paramref name="text"/> for a route whose path is <paramref name="path"/>; null and a reason when it cannot be.</summary>
    public static Template? Compile(string text, PathTemplate? path, bool authenticated, out string? error)
    {
        error = null;
        if (text.Any(c => char.IsControl(c) && c != '\t'))
        {
            error = "control characters cannot be part of a field value";
            return null;
        }

        var parts = new List<Part>();
        var literal = new StringBuilder();
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '}' && i + 1 < text.Length && text[i + 1] == '}' || c == '{' && i + 1 < text.Length && text[i + 1] == '{')
            {
                literal.Append(c);
                i++;
                continue;
            }

            if (c == '}')
            {
                error = "a } without its { (write }} for a brace)";
                return null;
            }

            if (c != '{')
            {
                literal.Append(c);
                continue;
            }

            int close = text.IndexOf('}', i);
            if (close < 0)
            {
                error = "a { is not closed (write {{ for a brace)";
                return null;
            }

            if (literal.Length > 0)
            {
                parts.Add(Part.Text(literal.ToString()));
                literal.Clear();
            }

            string name = text[(i + 1)..close];
            Part? variable = Variable(name, path, authenticated, out error);
            if (variable is null)
            {
                return null;
            }

            parts.Add(variable.Value);
            i = close;
        }

        if (literal.Length > 0)
        {
            parts.Add(Part.Text(literal.ToString()));
        }

        return new Template([.. parts], text);
    }

    private static Part? Variable(string name, PathTemplate? path, bool authenticated, out string? error)
    {
        error = null;
        int dot = name.IndexOf('.');
        string kind = dot < 0 ? name : name[..dot];
        string argument = dot < 0 ? string.Empty : name[(dot + 1)..];
        switch (kind)
        {
            case "client_ip" when dot < 0:
                return new Part(TemplateVariable.ClientIp);
            case "route" when dot < 0:
                return new Part(TemplateVariable.Route);
            case "request_id" when dot < 0:
                return new Part(TemplateVariable.RequestId);
            case "consumer" or "claim" when !authenticated:
                error = $"{{{name}}} needs the route to authenticate (auth = [...])";
                return null;
            case "consumer" when dot < 0:
                return new Part(TemplateVariable.Consumer);
            case "claim" when argument.Length > 0:
                return new Part(TemplateVariable.Claim, Name: argument);
            case "path" when argument.Length > 0:
                int index = path?.IndexOf(argument) ?? -1;
                if (index < 0)
                {
                    error = path is { HasParameters: true }
                        ? $"{{{name}}}: the route's path has no parameter \"{argument}\" (it has {string.Join(", ", path.ParameterNames)})"
                        : $"{{{name}}}: the route's path has no parameters";
                    return null;
                }

                return new Part(TemplateVariable.PathParameter, Index: index);
            case "query" when argument.Length > 0:
                return new Part(TemplateVariable.QueryParameter, Bytes: Encoding.UTF8.GetBytes(argument));
            case "header" when argument.Length > 0 && HttpCharacters.IsToken(Encoding.ASCII.GetBytes(argument)):
                return new Part(TemplateVariable.Header, Bytes: Encoding.ASCII.GetBytes(argument));
            default:
                error = $"{{{name}}} is not a known variable";
                return null;
        }
    }

    /// <summary>
    /// Writes the value for <paramref name="exchange"/>: safe for a field value, or (<paramref name="queryEncoded"/>)
    /// percent-encoded for a query parameter's value.
    /// </summary>
    public void Render<TWriter>(ref TWriter output, Exchange exchange, bool queryEncoded = false)
        where TWriter : ISpanWriter, allows ref struct
    {
        RequestHead request = exchange.Request;
        foreach (Part part in _parts)
        {
            switch (part.Variable)
            {
                case TemplateVariable.Literal:
                    Emit(ref output, part.Bytes, queryEncoded);
                    break;
                case TemplateVariable.ClientIp:
                    Emit(ref output, exchange.Snapshot.TrustedProxies.ClientAddress(exchange), queryEncoded);
                    break;
                case TemplateVariable.Route:
                    Emit(ref output, exchange.Route?.NameBytes ?? [], queryEncoded);
                    break;
                case TemplateVariable.RequestId:
                    Emit(ref output, exchange.RequestId, queryEncoded);
                    break;
                case TemplateVariable.Consumer:
                    Emit(ref output, exchange.Identity?.ConsumerIdBytes ?? [], queryEncoded);
                    break;
                case TemplateVariable.Claim:
                    EmitClaim(ref output, exchange, part.Name!, queryEncoded);
                    break;
                case TemplateVariable.PathParameter:
                    Emit(ref output, request.PathParameter(part.Index), queryEncoded);
                    break;
                case TemplateVariable.Header:
                    if (request.TryGetHeader(part.Bytes, out ReadOnlySpan<byte> value))
                    {
                        Emit(ref output, value, queryEncoded);
                    }

                    break;
                case TemplateVariable.QueryParameter:
                    if (QueryString.TryFind(request.Query, part.Bytes, out ReadOnlySpan<byte> raw))
                    {
                        // Already encoded for a query; decoded for a field.
                        if (queryEncoded)
                        {
                            output.Write(raw);
                        }
                        else
                        {
                            Span<byte> span = output.GetSpan(raw.Length);
                            output.Advance(Sanitize(span[..QueryString.Decode(raw, span)]));
                        }
                    }

                    break;
            }
        }
    }

    private static void EmitClaim<TWriter>(ref TWriter output, Exchange exchange, string claim, bool queryEncoded)
        where TWriter : ISpanWriter, allows ref struct
    {
        if (exchange.Identity is not { } identity || !identity.Claims.TryGetValue(claim, out string[]? values))
        {
            return;
        }

        Span<byte> small = stackalloc byte[512];
        for (int i = 0; i < values.Length; i++)
        {
            if (i > 0)
            {
                Emit(ref output, ","u8, queryEncoded);
            }

            byte[]? rented = null;
            int size = Encoding.UTF8.GetMaxByteCount(values[i].Length);
            Span<byte> utf8 = size <= small.Length ? small : (rented = ArrayPool<byte>.Shared.Rent(size));
            Emit(ref output, utf8[..Encoding.UTF8.GetBytes(values[i], utf8)], queryEncoded);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static void Emit<TWriter>(ref TWriter output, scoped ReadOnlySpan<byte> value, bool queryEncoded)
        where TWriter : ISpanWriter, allows ref struct
    {
        if (queryEncoded)
        {
            QueryString.Encode(ref output, value);
            return;
        }

        Span<byte> span = output.GetSpan(value.Length);
        value.CopyTo(span);
        output.Advance(Sanitize(span[..value.Length]));
    }

    private static readonly SearchValues<byte> Controls = SearchValues.Create([.. Enumerable.Range(0, 32).Where(b => b != '\t').Select(b => (byte)b), 0x7F]);

    /// <summary>Leaves out control characters (RFC 9110 §5.5: not allowed in a field value), in place; the new length.</summary>
    private static int Sanitize(Span<byte> value)
    {
        int first = value.IndexOfAny(Controls);
        if (first < 0)
        {
            return value.Length;
        }

        int kept = first;
        for (int i = first; i < value.Length; i++)
        {
            if (!Controls.Contains(value[i]))
            {
                value[kept++] = value[i];
            }
        }

        return kept;
    }

    public override string ToString() => Text;

    private readonly record struct Part(TemplateVariable Variable, byte[] Bytes = null!, string? Name = null, int Index = 0)
    {
        public static Part Text(string text) => new(TemplateVariable.Literal, Encoding.UTF8.GetBytes(text));
    }
}
