using System.Text;
using HyperGate.Http1;

namespace HyperGate.Tls;

/// <summary>The Location of a plain-HTTP request's https twin: same host, the HTTPS port, the path and query as received.</summary>
public static class HttpsRedirect
{
    /// <summary>The whole <c>Location</c> field line; null when the request names no host to send the client to.</summary>
    public static byte[]? LocationField(RequestHead request, int httpsPort)
    {
        ReadOnlySpan<byte> authority = request.Host;
        if (authority.IsEmpty)
        {
            return null;
        }

        // The host without the plain listener's port; an IPv6 literal keeps its brackets.
        int bracket = authority.LastIndexOf((byte)']');
        int colon = authority.LastIndexOf((byte)':');
        ReadOnlySpan<byte> host = colon > bracket ? authority[..colon] : authority;
        var location = new StringBuilder("Location: https://");
        location.Append(Encoding.ASCII.GetString(host));
        if (httpsPort != 443)
        {
            location.Append(':').Append(httpsPort);
        }

        location.Append(request.RawPath.IsEmpty ? "/" : Encoding.ASCII.GetString(request.RawPath));
        location.Append(Encoding.ASCII.GetString(request.Query)).Append("\r\n");
        return Encoding.ASCII.GetBytes(location.ToString());
    }
}
