using System.Buffers;
using HyperGate.Http1;

namespace HyperGate.Diagnostics;

/// <summary>
/// The W3C trace context (https://www.w3.org/TR/trace-context/) of one request: continued from the client's
/// <c>traceparent</c> when it sent a valid one, started otherwise. The gateway's own span is a child of the
/// client's, and its id is the parent the upstream sees. Kept in hex, as it is written; one instance per
/// connection, reset per request, so tracing allocates nothing.
/// </summary>
public sealed class TraceContext
{
    private const int TraceIdHex = 32;
    private const int SpanIdHex = 16;

    /// <summary>"00-" + trace id + "-" + parent id + "-" + flags.</summary>
    private const int Version00Length = 55;

    private readonly byte[] _traceId = new byte[TraceIdHex];
    private readonly byte[] _parentSpanId = new byte[SpanIdHex];
    private readonly byte[] _spanId = new byte[SpanIdHex];

    /// <summary>The trace id as 32 lowercase hex digits.</summary>
    public ReadOnlySpan<byte> TraceId => _traceId;

    /// <summary>The gateway's span id (the upstream's parent) as 16 lowercase hex digits.</summary>
    public ReadOnlySpan<byte> SpanId => _spanId;

    /// <summary>The client's span id, when the request came with a valid traceparent.</summary>
    public ReadOnlySpan<byte> ParentSpanId => HasParent ? _parentSpanId : [];

    public bool HasParent { get; private set; }

    public bool Sampled { get; private set; }

    /// <summary>
    /// Continues the client's trace (keeping its sampling decision), or starts a new one sampled with
    /// probability <paramref name="sampleRate"/>. Either way the gateway's span gets a fresh id.
    /// </summary>
    public void Begin(RequestHead request, double sampleRate)
    {
        bool sampled = false;
        HasParent = request.TraceparentIndex >= 0
            && TryParse(request.ValueOf(request.Headers[request.TraceparentIndex]), _traceId, _parentSpanId, out sampled);
        if (HasParent)
        {
            Sampled = sampled;
        }
        else
        {
            RandomHex(_traceId);
            Sampled = sampleRate > 0 && Random.Shared.NextDouble() < sampleRate;
        }

        RandomHex(_spanId);
    }

    /// <summary>Takes the ids of the span exported for this request (a new trace's id comes from it too).</summary>
    public void Adopt(System.Diagnostics.ActivityTraceId traceId, System.Diagnostics.ActivitySpanId spanId)
    {
        Span<byte> raw = stackalloc byte[TraceIdHex / 2];
        traceId.CopyTo(raw);
        WriteHex(raw, _traceId);
        spanId.CopyTo(raw[..(SpanIdHex / 2)]);
        WriteHex(raw[..(SpanIdHex / 2)], _spanId);
    }

    /// <summary>Writes <c>traceparent: 00-TRACE-SPAN-FLAGS</c> for the upstream request.</summary>
    public void WriteUpstreamField(ref HeadWriter output)
    {
        output.Write("traceparent: 00-"u8);
        output.Write(_traceId);
        output.Write("-"u8);
        output.Write(_spanId);
        output.Write(Sampled ? "-01\r\n"u8 : "-00\r\n"u8);
    }

    /// <summary>
    /// Parses a traceparent value. Version 00 must be exactly 55 characters; a later version may append fields
    /// after a dash (and is read as 00). Ids must be lowercase hex and not all zeros; version ff is invalid.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> value, Span<byte> traceId, Span<byte> parentId, out bool sampled)
    {
        sampled = false;
        if (value.Length < Version00Length || !IsLowerHex(value[..2]) || value[..2].SequenceEqual("ff"u8))
        {
            return false;
        }

        bool version00 = value[..2].SequenceEqual("00"u8);
        if (version00 ? value.Length != Version00Length : value.Length > Version00Length && value[Version00Length] != '-')
        {
            return false;
        }

        ReadOnlySpan<byte> trace = value.Slice(3, TraceIdHex);
        ReadOnlySpan<byte> parent = value.Slice(36, SpanIdHex);
        ReadOnlySpan<byte> flags = value.Slice(53, 2);
        if (value[2] != '-' || value[35] != '-' || value[52] != '-'
            || !IsLowerHex(trace) || !IsLowerHex(parent) || !IsLowerHex(flags) || IsAllZeros(trace) || IsAllZeros(parent))
        {
            return false;
        }

        trace.CopyTo(traceId);
        parent.CopyTo(parentId);
        sampled = (HexValue(flags[1]) & 1) == 1;
        return true;
    }

    private static void RandomHex(Span<byte> hex)
    {
        Span<byte> random = stackalloc byte[hex.Length / 2];
        do
        {
            Random.Shared.NextBytes(random);
        }
        while (random.IndexOfAnyExcept((byte)0) < 0);

        WriteHex(random, hex);
    }

    /// <summary>
    /// Lowercase hex, a digit at a time: the platform's vector encoder needs SSSE3, which the native build does not
    /// assume, and its fallback cost 1% of the proxy's time for the two ids of every request.
    /// </summary>
    private static void WriteHex(ReadOnlySpan<byte> bytes, Span<byte> hex)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            hex[2 * i] = HexDigits[bytes[i] >> 4];
            hex[2 * i + 1] = HexDigits[bytes[i] & 0xF];
        }
    }

    private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

    private static readonly SearchValues<byte> LowerHex = SearchValues.Create(HexDigits);

    private static bool IsLowerHex(ReadOnlySpan<byte> text) => text.IndexOfAnyExcept(LowerHex) < 0;

    private static bool IsAllZeros(ReadOnlySpan<byte> text) => text.IndexOfAnyExcept((byte)'0') < 0;

    private static int HexValue(byte digit) => digit <= '9' ? digit - '0' : digit - 'a' + 10;
}
