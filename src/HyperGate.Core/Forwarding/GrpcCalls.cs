using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using HyperGate.Http1;

namespace HyperGate.Forwarding;

/// <summary>
/// What the gateway does differently for a gRPC call (an HTTP/2 request whose content-type is application/grpc):
/// its own errors are gRPC statuses (HTTP 200 with grpc-status and grpc-message in a trailers-only response), and
/// the client's grpc-timeout bounds the wait for the upstream.
/// </summary>
public static class GrpcCalls
{
    /// <summary>gRPC over HTTP/2: "application/grpc", alone or with a subtype ("+proto").</summary>
    public static bool IsGrpc(RequestHead request) =>
        request.TryGetHeader("content-type"u8, out ReadOnlySpan<byte> type) && type.StartsWith("application/grpc"u8)
        && (type.Length == "application/grpc".Length || type["application/grpc".Length] is (byte)'+' or (byte)';');

    /// <summary>The grpc-timeout field: 1 to 8 digits and a unit (H, M, S, m, u, n); false when absent or malformed.</summary>
    public static bool TryGetTimeout(RequestHead request, out TimeSpan timeout)
    {
        timeout = default;
        if (!request.TryGetHeader("grpc-timeout"u8, out ReadOnlySpan<byte> value) || value.Length is < 2 or > 9
            || !long.TryParse(value[..^1], System.Globalization.NumberStyles.None, null, out long amount))
        {
            return false;
        }

        timeout = value[^1] switch
        {
            (byte)'H' => TimeSpan.FromHours(amount),
            (byte)'M' => TimeSpan.FromMinutes(amount),
            (byte)'S' => TimeSpan.FromSeconds(amount),
            (byte)'m' => TimeSpan.FromMilliseconds(amount),
            (byte)'u' => TimeSpan.FromMicroseconds(amount),
            (byte)'n' => TimeSpan.FromTicks(Math.Max(1, amount / 100)),
            _ => TimeSpan.Zero,
        };
        return timeout > TimeSpan.Zero;
    }

    /// <summary>A grpc-status value: decimal digits only; false for anything else.</summary>
    public static bool TryParseStatus(ReadOnlySpan<byte> value, out int status) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, null, out status);

    /// <summary>
    /// The gRPC status for an error the gateway answers: gRPC's HTTP mapping, except that a rate limit is
    /// RESOURCE_EXHAUSTED and a gateway timeout DEADLINE_EXCEEDED, as clients can act on them.
    /// </summary>
    public static int StatusFor(int httpStatus) => httpStatus switch
    {
        400 => 13,                // INTERNAL
        401 => 16,                // UNAUTHENTICATED
        403 => 7,                 // PERMISSION_DENIED
        404 or 405 => 12,         // UNIMPLEMENTED
        408 or 504 => 4,          // DEADLINE_EXCEEDED
        413 or 429 or 431 => 8,   // RESOURCE_EXHAUSTED
        502 or 503 => 14,         // UNAVAILABLE
        _ => 2,                   // UNKNOWN
    };

    /// <summary>Writes the error as a trailers-only gRPC response (the status and message travel in the head).</summary>
    public static void WriteError(PipeWriter pipe, int grpcStatus, string message, ReadOnlySpan<byte> dateLine, Exchange exchange)
    {
        var output = new HeadWriter(pipe);
        output.Write("HTTP/1.1 200 OK\r\nContent-Type: application/grpc\r\nContent-Length: 0\r\ngrpc-status: "u8);
        GatewayResponses.WriteNumber(ref output, grpcStatus);
        output.Write("\r\ngrpc-message: "u8);
        WritePercentEncoded(ref output, message);
        output.Write("\r\n"u8);
        output.Write(dateLine);
        exchange.WriteGatewayFields(ref output);
        output.Write("\r\n"u8);
        output.Commit();
    }

    /// <summary>grpc-message is percent-encoded: bytes outside printable ASCII, and '%' itself.</summary>
    private static void WritePercentEncoded(ref HeadWriter output, string message)
    {
        Span<byte> escape = stackalloc byte[3];
        foreach (char c in message)
        {
            if (c is >= ' ' and <= '~' and not '%')
            {
                escape[0] = (byte)c;
                output.Write(escape[..1]);
            }
            else
            {
                escape[0] = (byte)'%';
                ((byte)c).TryFormat(escape[1..], out _, "X2");
                output.Write(escape);
            }
        }
    }
}

/// <summary>
/// Reads a call's grpc-status as its response is forwarded: from the head of a trailers-only response, or from the
/// trailers that end a streamed one (the body itself is only relayed), so that metrics and the access log carry it.
/// </summary>
internal sealed class GrpcStatusReader(Exchange exchange) : IBodySink
{
    public void ReadHead(ResponseHead response)
    {
        if (response.TryGetHeader("grpc-status"u8, out ReadOnlySpan<byte> value) && GrpcCalls.TryParseStatus(value, out int status))
        {
            exchange.GrpcStatus = status;
        }
    }

    public void Append(in ReadOnlySequence<byte> data)
    {
    }

    public void Complete(bool complete)
    {
    }

    public void Trailers(ReadOnlySpan<byte> section)
    {
        foreach (Range range in section.Split("\r\n"u8))
        {
            ReadOnlySpan<byte> line = section[range];
            int colon = line.IndexOf((byte)':');
            if (colon > 0 && Ascii.EqualsIgnoreCase(line[..colon], "grpc-status"u8) && GrpcCalls.TryParseStatus(line[(colon + 1)..].Trim(" \t"u8), out int status))
            {
                exchange.GrpcStatus = status;
            }
        }
    }
}
