using System.Buffers;
using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Diagnostics;

/// <summary>
/// <c>[request_id]</c>: every request carries an id that joins the client's report, the gateway's access log and the
/// upstream's logs. A valid id the client sent (in <see cref="Header"/>) is kept; otherwise the request's trace id is
/// used (32 hex digits, already made for tracing: nothing more to generate). The id is forwarded upstream, returned on
/// every response (the gateway's own errors too) and logged.
/// </summary>
public sealed class RequestIdSettings
{
    /// <summary>Longer ids are not taken from a client (they are replaced): ids go into every log line.</summary>
    public const int MaxLength = 128;

    /// <summary>What an id taken from a client may hold: visible characters that need no quoting in logs or fields.</summary>
    private static readonly SearchValues<byte> Allowed = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:+/=@~"u8);

    public RequestIdSettings(string header)
    {
        Header = header;
        HeaderBytes = Encoding.ASCII.GetBytes(header);
        FieldPrefix = Encoding.ASCII.GetBytes(header + ": ");
    }

    public string Header { get; }

    public byte[] HeaderBytes { get; }

    /// <summary>"X-Request-Id: ", written before the id.</summary>
    public byte[] FieldPrefix { get; }

    public static bool IsValid(ReadOnlySpan<byte> id) => id.Length is > 0 and <= MaxLength && !id.ContainsAnyExcept(Allowed);

    /// <summary>Takes the client's id when valid; every copy of the field is dropped (the gateway writes its own).</summary>
    public void Begin(Exchange exchange)
    {
        RequestHead request = exchange.Request;
        bool taken = false;
        for (int i = 0; i < request.HeaderCount; i++)
        {
            ref HeaderField field = ref request.HeaderAt(i);
            if (!Ascii.EqualsIgnoreCase(request.NameOf(field), HeaderBytes))
            {
                continue;
            }

            field.Dropped = true;
            if (!taken && IsValid(request.ValueOf(field)))
            {
                exchange.SetRequestId(request.ValueOf(field));
                taken = true;
            }
        }
    }

    public void WriteField(ref HeadWriter output, Exchange exchange)
    {
        output.Write(FieldPrefix);
        output.Write(exchange.RequestId);
        output.Write("\r\n"u8);
    }
}
