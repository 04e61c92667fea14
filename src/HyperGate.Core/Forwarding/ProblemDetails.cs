using System.Buffers;
using System.Text.Json;

namespace HyperGate.Forwarding;

/// <summary>
/// RFC 9457 problem documents (<c>application/problem+json</c>) for refusals that need to say more than a reason code:
/// where a body broke, which validation rules failed. The type is a URN naming the problem; <c>errors</c> is an
/// extension member listing each error with the JSON Pointer it concerns.
/// </summary>
public static class ProblemDetails
{
    /// <summary>Writes the whole response (not flushed).</summary>
    public static void Write(Exchange exchange, int status, string type, string title, string detail, IReadOnlyList<(string Pointer, string Message)> errors, bool close)
    {
        var body = new ArrayBufferWriter<byte>(256);
        // Relaxed escaping keeps quotes and apostrophes readable; the document is served as JSON, never embedded in HTML.
        using (var json = new Utf8JsonWriter(body, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("type", $"urn:hypergate:problem:{type}");
            json.WriteString("title", title);
            json.WriteNumber("status", status);
            json.WriteString("detail", detail);
            if (errors.Count > 0)
            {
                json.WriteStartArray("errors");
                foreach ((string pointer, string message) in errors)
                {
                    json.WriteStartObject();
                    json.WriteString("pointer", pointer);
                    json.WriteString("detail", message);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            json.WriteEndObject();
        }

        var output = new HyperGate.Http1.HeadWriter(exchange.Output);
        GatewayResponses.WriteStatusLine(ref output, status);
        output.Write("Content-Type: application/problem+json\r\nContent-Length: "u8);
        GatewayResponses.WriteNumber(ref output, body.WrittenCount);
        output.Write("\r\n"u8);
        output.Write(exchange.Date.Line);
        exchange.WriteGatewayFields(ref output);
        output.Write(close ? "Connection: close\r\n\r\n"u8 : "\r\n"u8);
        output.Write(body.WrittenSpan);
        output.Commit();
        exchange.Status = status;
        exchange.ResponseBodyBytes = body.WrittenCount;
    }
}
