using System.Text;
using HyperGate.Http1;

namespace HyperGate.RateLimiting;

public enum RateLimitKeyKind
{
    /// <summary>The client's address (from X-Forwarded-For when the peer is a trusted proxy).</summary>
    Ip,

    /// <summary>The authenticated consumer; the client's address while the request has none.</summary>
    Consumer,

    /// <summary>A request header's value; the client's address when the header is absent.</summary>
    Header,

    /// <summary>The route's name: one quota for everyone on the route.</summary>
    Route,
}

/// <summary>One part of a limit's key, such as <c>"ip"</c> or <c>"header:x-api-key"</c>.</summary>
public sealed record RateLimitKeyPart(RateLimitKeyKind Kind, string? HeaderName = null)
{
    public static bool TryParse(string text, out RateLimitKeyPart? part)
    {
        part = text switch
        {
            "ip" => new RateLimitKeyPart(RateLimitKeyKind.Ip),
            "consumer" => new RateLimitKeyPart(RateLimitKeyKind.Consumer),
            "route" => new RateLimitKeyPart(RateLimitKeyKind.Route),
            _ when text.StartsWith("header:", StringComparison.Ordinal) && text.Length > 7
                && HttpCharacters.IsToken(Encoding.ASCII.GetBytes(text[7..])) => new RateLimitKeyPart(RateLimitKeyKind.Header, text[7..].ToLowerInvariant()),
            _ => null,
        };
        return part is not null;
    }

    public override string ToString() => Kind == RateLimitKeyKind.Header ? $"header:{HeaderName}" : Kind.ToString().ToLowerInvariant();
}
