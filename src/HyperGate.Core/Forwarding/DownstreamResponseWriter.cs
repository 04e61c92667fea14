using System.IO.Pipelines;
using HyperGate.Diagnostics;
using HyperGate.Http1;

namespace HyperGate.Forwarding;

/// <summary>Serializes the response head sent downstream: the upstream's end-to-end fields and our own framing.</summary>
internal static class DownstreamResponseWriter
{
    /// <summary>Writes the head; <paramref name="serverTiming"/>, when given, adds the Server-Timing field.</summary>
    public static void Write(PipeWriter pipe, ResponseHead response, Exchange exchange, BodyFraming framing, bool dechunk, bool keepAlive, RequestRecorder? serverTiming)
    {
        var output = new HeadWriter(pipe);
        RequestHead request = exchange.Request;
        GatewayResponses.WriteStatusLine(ref output, response.StatusCode, response.ReasonPhrase);
        if (exchange.Route?.Phases.ResponseFields is { } rewrite)
        {
            rewrite.WriteFields(ref output, response, exchange);
        }
        else
        {
            response.WriteForwardedFields(ref output);
        }

        exchange.WriteGatewayFields(ref output);
        serverTiming?.WriteServerTiming(ref output, exchange);

        switch (framing)
        {
            case BodyFraming.ContentLength:
                WriteContentLength(ref output, response.ContentLength);
                break;
            case BodyFraming.Chunked when !dechunk:
                output.Write("Transfer-Encoding: chunked\r\n"u8);
                break;
            case BodyFraming.None when response.StatusCode != 204 && response.StatusCode >= 200:
                // RFC 9110 §9.3.2, §15.4.5: HEAD and 304 responses carry the length the body would have had.
                if (response.ContentLength >= 0)
                {
                    WriteContentLength(ref output, response.ContentLength);
                }
                else if (response.IsChunked && request.Version == HttpVersion.Http11)
                {
                    output.Write("Transfer-Encoding: chunked\r\n"u8);
                }

                break;
        }

        WriteConnection(ref output, keepAlive, request.Version);
        output.Write("\r\n"u8);
        output.Commit();
    }

    /// <summary>Connection: close when the connection ends after this response; keep-alive spelled out for HTTP/1.0.</summary>
    public static void WriteConnection(ref HeadWriter output, bool keepAlive, HttpVersion version)
    {
        if (!keepAlive)
        {
            output.Write("Connection: close\r\n"u8);
        }
        else if (version == HttpVersion.Http10)
        {
            output.Write("Connection: keep-alive\r\n"u8);
        }
    }

    /// <summary>An interim (1xx) response: forwarded as received, minus hop-by-hop fields.</summary>
    public static void WriteInterim(PipeWriter pipe, ResponseHead response)
    {
        var output = new HeadWriter(pipe);
        GatewayResponses.WriteStatusLine(ref output, response.StatusCode, response.ReasonPhrase);
        response.WriteForwardedFields(ref output);
        output.Write("\r\n"u8);
        output.Commit();
    }

    /// <summary>RFC 9110 §15.2.2: after 101, the connection belongs to the new protocol.</summary>
    public static void WriteSwitchingProtocols(PipeWriter pipe, ResponseHead response)
    {
        var output = new HeadWriter(pipe);
        GatewayResponses.WriteStatusLine(ref output, 101, response.ReasonPhrase);
        response.WriteForwardedFields(ref output);
        output.Write("Connection: upgrade\r\nUpgrade: "u8);
        output.Write(response.UpgradeIndex >= 0 ? response.ValueOf(response.Headers[response.UpgradeIndex]) : []);
        output.Write("\r\n\r\n"u8);
        output.Commit();
    }

    public static void WriteContentLength(ref HeadWriter output, long length)
    {
        output.Write("Content-Length: "u8);
        GatewayResponses.WriteNumber(ref output, length);
        output.Write("\r\n"u8);
    }
}
