using System.Text;
using HyperGate.Http1;

namespace HyperGate.Security;

/// <summary>
/// The header fields that tell an upstream who the caller is (<c>[identity]</c>): the consumer id and selected
/// claims. Any copy a client sends is dropped from every request, so an upstream can trust what it receives.
/// </summary>
public sealed class IdentityHeaders
{
    private readonly byte[][] _names;
    private readonly (string Claim, string Header)[] _claimHeaders;

    public IdentityHeaders(string? consumerHeader, IReadOnlyList<KeyValuePair<string, string>> claimHeaders)
    {
        ConsumerHeader = consumerHeader;
        _claimHeaders = [.. claimHeaders.Select(pair => (pair.Key, pair.Value))];
        _names = [.. new[] { consumerHeader }.Concat(claimHeaders.Select(p => p.Value)).OfType<string>().Select(Encoding.ASCII.GetBytes)];
    }

    public string? ConsumerHeader { get; }

    /// <summary>Marks the client's copies of the identity fields so they are not forwarded.</summary>
    public void DropClientCopies(RequestHead request)
    {
        for (int i = 0; i < request.HeaderCount; i++)
        {
            ref HeaderField field = ref request.HeaderAt(i);
            foreach (byte[] name in _names)
            {
                if (Ascii.EqualsIgnoreCase(request.NameOf(field), name))
                {
                    field.Dropped = true;
                }
            }
        }
    }

    /// <summary>Writes the identity's fields; encoded once per identity, then copied.</summary>
    public void Write(ref HeadWriter output, Identity identity)
    {
        if (identity.EncodedFor != this || identity.EncodedHeaders is null)
        {
            identity.EncodedHeaders = Encode(identity);
            identity.EncodedFor = this;
        }

        output.Write(identity.EncodedHeaders);
    }

    private byte[] Encode(Identity identity)
    {
        var text = new StringBuilder();
        if (ConsumerHeader is not null && IsSafe(identity.ConsumerId))
        {
            text.Append(ConsumerHeader).Append(": ").Append(identity.ConsumerId).Append("\r\n");
        }

        foreach ((string claim, string header) in _claimHeaders)
        {
            if (identity.Claims.TryGetValue(claim, out string[]? values) && values.All(IsSafe))
            {
                text.Append(header).Append(": ").Append(string.Join(", ", values)).Append("\r\n");
            }
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>Only values that are valid field content go upstream: no control characters, no line breaks.</summary>
    private static bool IsSafe(string value) => value.Length > 0 && value.All(c => c is >= ' ' and <= '~');
}
