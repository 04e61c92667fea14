using System.Text;
using HyperGate.Http1;

namespace HyperGate.Security;

/// <summary>
/// A route's CORS rules. Preflights are answered by the gateway; on actual requests from an allowed origin the
/// response carries the origin echoed exactly (never <c>*</c> together with credentials) and <c>Vary: Origin</c>.
/// The upstream's own Access-Control-* fields are replaced, so a browser never sees two answers.
/// </summary>
public sealed class CorsPolicy
{
    private readonly HashSet<string> _origins;
    private readonly bool _anyOrigin;
    private readonly HashSet<string> _methods;
    private readonly HashSet<string> _headers;
    private readonly byte[] _preflightFields;
    private readonly byte[] _actualFields;

    public CorsPolicy(IReadOnlyList<string> origins, IReadOnlyList<string> methods, IReadOnlyList<string> headers, IReadOnlyList<string> exposeHeaders, bool credentials, TimeSpan maxAge)
    {
        _anyOrigin = origins.Contains("*");
        _origins = new HashSet<string>(origins, StringComparer.Ordinal);
        _methods = new HashSet<string>(methods, StringComparer.Ordinal);
        _headers = new HashSet<string>(headers.Select(h => h.ToLowerInvariant()), StringComparer.Ordinal);
        Credentials = credentials;
        string credentialsLine = credentials ? "Access-Control-Allow-Credentials: true\r\n" : string.Empty;
        _preflightFields = Encoding.ASCII.GetBytes(
            $"Access-Control-Allow-Methods: {string.Join(", ", methods)}\r\n" +
            (headers.Count > 0 ? $"Access-Control-Allow-Headers: {string.Join(", ", headers)}\r\n" : string.Empty) +
            $"Access-Control-Max-Age: {(long)maxAge.TotalSeconds}\r\n" + credentialsLine);
        _actualFields = Encoding.ASCII.GetBytes(
            (exposeHeaders.Count > 0 ? $"Access-Control-Expose-Headers: {string.Join(", ", exposeHeaders)}\r\n" : string.Empty) + credentialsLine);
    }

    public bool Credentials { get; }

    /// <summary>RFC-less but universal: OPTIONS with Origin and Access-Control-Request-Method.</summary>
    public static bool IsPreflight(RequestHead request) =>
        request.Method == HttpMethod.Options && request.TryGetHeader("origin"u8, out _) && request.TryGetHeader("access-control-request-method"u8, out _);

    public bool AllowsOrigin(ReadOnlySpan<byte> origin)
    {
        if (_anyOrigin)
        {
            return true;
        }

        Span<char> text = stackalloc char[Math.Min(origin.Length, 512)];
        return origin.Length <= 512 && Encoding.ASCII.TryGetChars(origin, text, out int written)
            && _origins.GetAlternateLookup<ReadOnlySpan<char>>().Contains(text[..written]);
    }

    /// <summary>Whether a preflight asks for a method and headers this policy allows (its origin already checked).</summary>
    public bool AllowsPreflight(RequestHead request)
    {
        request.TryGetHeader("access-control-request-method"u8, out ReadOnlySpan<byte> method);
        if (!_methods.Contains(Encoding.ASCII.GetString(method)))
        {
            return false;
        }

        if (request.TryGetHeader("access-control-request-headers"u8, out ReadOnlySpan<byte> headers))
        {
            foreach (Range range in headers.Split((byte)','))
            {
                ReadOnlySpan<byte> name = HttpCharacters.TrimWhitespace(headers[range]);
                if (!name.IsEmpty && !_headers.Contains(Encoding.ASCII.GetString(name).ToLowerInvariant()))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>The fields of an answered preflight (after the origin ones).</summary>
    public void WritePreflightFields(ref HeadWriter output, RequestHead request)
    {
        WriteOriginFields(ref output, request);
        output.Write(_preflightFields);
    }

    /// <summary>The fields added to any response to an allowed origin's actual request.</summary>
    public void WriteResponseFields(ref HeadWriter output, RequestHead request)
    {
        WriteOriginFields(ref output, request);
        output.Write(_actualFields);
    }

    private void WriteOriginFields(ref HeadWriter output, RequestHead request)
    {
        // "*" only when credentials are off (the config refuses the combination); otherwise the exact origin.
        if (_anyOrigin && !Credentials)
        {
            output.Write("Access-Control-Allow-Origin: *\r\n"u8);
            return;
        }

        request.TryGetHeader("origin"u8, out ReadOnlySpan<byte> origin);
        output.Write("Access-Control-Allow-Origin: "u8);
        output.Write(origin);
        output.Write("\r\nVary: Origin\r\n"u8);
    }

    /// <summary>Drops the upstream's Access-Control-* fields: the gateway's answer is the only one.</summary>
    public static void DropUpstreamFields(ResponseHead response)
    {
        for (int i = 0; i < response.HeaderCount; i++)
        {
            ref HeaderField field = ref response.HeaderAt(i);
            if (response.NameOf(field).Length > 15 && Ascii.EqualsIgnoreCase(response.NameOf(field)[..15], "access-control-"u8))
            {
                field.Dropped = true;
            }
        }
    }
}
