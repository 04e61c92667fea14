using System.Buffers;
using System.IO.Pipelines;
using HyperGate.Diagnostics;
using HyperGate.Http1;
using HyperGate.Security;

namespace HyperGate.Forwarding;

/// <summary>Serializes the response head sent downstream: the upstream's end-to-end fields and our own framing.</summary>
internal static class DownstreamResponseWriter
{
    /// <summary>Writes the head; <paramref name="serverTiming"/>, when given, adds the Server-Timing field.</summary>
    public static void Write(PipeWriter output, ResponseHead response, Exchange exchange, BodyFraming framing, bool dechunk, bool keepAlive, RequestRecorder? serverTiming)
    {
        RequestHead request = exchange.Request;
        GatewayResponses.WriteStatusLine(output, response.StatusCode, response.ReasonPhrase);
        if (exchange.Route!.Cors is not null)
        {
            CorsPolicy.DropUpstreamFields(response);
        }

        response.WriteForwardedFields(output);
        exchange.WriteGatewayFields(output);
        serverTiming?.WriteServerTiming(output, exchange);

        switch (framing)
        {
            case BodyFraming.ContentLength:
                WriteContentLength(output, response.ContentLength);
                break;
            case BodyFraming.Chunked when !dechunk:
                output.Write("Transfer-Encoding: chunked\r\n"u8);
                break;
            case BodyFraming.None when response.StatusCode != 204 && response.StatusCode >= 200:
                // RFC 9110 §9.3.2, §15.4.5: HEAD and 304 responses carry the length the body would have had.
                if (response.ContentLength >= 0)
                {
                    WriteContentLength(output, response.ContentLength);
                }
                else if (response.IsChunked && request.Version == HttpVersion.Http11)
                {
                    output.Write("Transfer-Encoding: chunked\r\n"u8);
                }

                break;
        }

        if (!keepAlive)
        {
            output.Write("Connection: close\r\n"u8);
        }
        else if (request.Version == HttpVersion.Http10)
        {
            output.Write("Connection: keep-alive\r\n"u8);
        }

        output.Write("\r\n"u8);
    }

    /// <summary>An interim (1xx) response: forwarded as received, minus hop-by-hop fields.</summary>
    public static void WriteInterim(PipeWriter output, ResponseHead response)
    {
        GatewayResponses.WriteStatusLine(output, response.StatusCode, response.ReasonPhrase);
        response.WriteForwardedFields(output);
        output.Write("\r\n"u8);
    }

    /// <summary>RFC 9110 §15.2.2: after 101, the connection belongs to the new protocol.</summary>
    public static void WriteSwitchingProtocols(PipeWriter output, ResponseHead response)
    {
        GatewayResponses.WriteStatusLine(output, 101, response.ReasonPhrase);
        response.WriteForwardedFields(output);
        output.Write("Connection: upgrade\r\nUpgrade: "u8);
        output.Write(response.UpgradeIndex >= 0 ? response.ValueOf(response.Headers[response.UpgradeIndex]) : []);
        output.Write("\r\n\r\n"u8);
    }

    private static void WriteContentLength(PipeWriter output, long length)
    {
        output.Write("Content-Length: "u8);
        GatewayResponses.WriteNumber(output, length);
        output.Write("\r\n"u8);
    }
}
