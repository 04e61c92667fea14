using System.Security.Cryptography;
using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Security;

/// <summary>An API key in a header or a query parameter, checked against the consumers' stored SHA-256 hashes.</summary>
public sealed class ApiKeyAuthenticator : IAuthenticator
{
    private readonly byte[]? _header;
    private readonly byte[]? _queryParameter;
    private readonly ConsumerDirectory _consumers;

    public ApiKeyAuthenticator(string name, string? header, string? queryParameter, ConsumerDirectory consumers)
    {
        Name = name;
        _header = header is null ? null : Encoding.ASCII.GetBytes(header);
        _queryParameter = queryParameter is null ? null : Encoding.ASCII.GetBytes(queryParameter + "=");
        _consumers = consumers;
        Challenge = $"ApiKey realm=\"hypergate\", {(header is null ? "query" : "header")}=\"{header ?? queryParameter}\"";
    }

    public string Name { get; }

    public string Challenge { get; }

    public ValueTask<AuthResult> AuthenticateAsync(Exchange exchange)
    {
        if (!TryGetKey(exchange.Request, out ReadOnlySpan<byte> key))
        {
            return ValueTask.FromResult(AuthResult.Missing);
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(key, hash);
        Consumer? consumer = _consumers.FindByKeyHash(hash);
        return ValueTask.FromResult(consumer is null ? AuthResult.Invalid : AuthResult.Success(consumer.Identity));
    }

    private bool TryGetKey(RequestHead request, out ReadOnlySpan<byte> key)
    {
        if (_header is not null)
        {
            return request.TryGetHeader(_header, out key) && !key.IsEmpty;
        }

        // The query as received, "?a=1&api_key=..."; keys are expected to be URL-safe, as generated keys are.
        ReadOnlySpan<byte> query = request.Query;
        key = default;
        if (query.IsEmpty)
        {
            return false;
        }

        foreach (Range range in query[1..].Split((byte)'&'))
        {
            ReadOnlySpan<byte> pair = query[1..][range];
            if (pair.StartsWith(_queryParameter))
            {
                key = pair[_queryParameter!.Length..];
                return !key.IsEmpty;
            }
        }

        return false;
    }

    public void Dispose()
    {
    }
}
