using System.Text;

namespace HyperGate.Forwarding;

/// <summary>A response configured on a route (a mock or a maintenance page), encoded once at config compile time.</summary>
public sealed class DirectResponse
{
    public DirectResponse(int status, string contentType, string body)
    {
        Status = status;
        Body = Encoding.UTF8.GetBytes(body);
        Head = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status} {GatewayResponses.ReasonPhrase(status)}\r\nContent-Type: {contentType}\r\nContent-Length: {Body.Length}\r\n");
    }

    public int Status { get; }

    /// <summary>Status line and fields, without Date, Connection and the final empty line.</summary>
    public byte[] Head { get; }

    public byte[] Body { get; }
}
