using System.Collections.Frozen;

namespace HyperGate.Tls;

/// <summary>
/// Chooses the certificate for a client's server name (SNI) against each certificate's DNS names: an exact name first,
/// then a wildcard covering exactly one label ("*.example.com" serves "a.example.com", not "example.com" nor
/// "a.b.example.com", as RFC 6125 §6.4.3 has clients match it). A name that matches none, or no name at all, gets the
/// first certificate, unless <c>strict_sni</c> asks for a handshake failure.
/// </summary>
public sealed class CertificateSelector
{
    private readonly FrozenDictionary<string, ServerCertificate> _exact;
    private readonly FrozenDictionary<string, ServerCertificate> _wildcard;
    private readonly ServerCertificate? _default;
    private readonly FrozenDictionary<string, ServerCertificate>.AlternateLookup<ReadOnlySpan<char>> _exactBySpan;
    private readonly FrozenDictionary<string, ServerCertificate>.AlternateLookup<ReadOnlySpan<char>> _wildcardBySpan;

    public CertificateSelector(IReadOnlyList<ServerCertificate> certificates, bool strictSni)
    {
        var exact = new Dictionary<string, ServerCertificate>(StringComparer.OrdinalIgnoreCase);
        var wildcard = new Dictionary<string, ServerCertificate>(StringComparer.OrdinalIgnoreCase);
        foreach (ServerCertificate certificate in certificates)
        {
            foreach (string name in certificate.Names)
            {
                // The first certificate that names a host serves it.
                if (name.StartsWith("*.", StringComparison.Ordinal))
                {
                    wildcard.TryAdd(name[2..], certificate);
                }
                else
                {
                    exact.TryAdd(name, certificate);
                }
            }
        }

        _exact = exact.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _wildcard = wildcard.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _default = strictSni || certificates.Count == 0 ? null : certificates[0];
        _exactBySpan = _exact.GetAlternateLookup<ReadOnlySpan<char>>();
        _wildcardBySpan = _wildcard.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The certificate for <paramref name="serverName"/> (null or empty: the client sent none); null to fail the handshake.</summary>
    public ServerCertificate? Select(string? serverName) => Match(serverName) ?? _default;

    /// <summary>The certificate whose names cover <paramref name="host"/>, without the default; null when none does.</summary>
    public ServerCertificate? Match(ReadOnlySpan<char> host)
    {
        host = host.TrimEnd('.');
        if (host.IsEmpty)
        {
            return null;
        }

        if (_exactBySpan.TryGetValue(host, out ServerCertificate? exact))
        {
            return exact;
        }

        int dot = host.IndexOf('.');
        return dot > 0 && _wildcardBySpan.TryGetValue(host[(dot + 1)..], out ServerCertificate? wildcard) ? wildcard : null;
    }

    /// <summary>
    /// Whether a request's authority (Host, or an absolute-form target's) names a host that some configured
    /// certificate serves but <paramref name="presented"/> does not: the request belongs on another connection.
    /// Addresses and names no certificate serves are not misdirected. Allocation-free: it runs on every HTTPS request.
    /// </summary>
    public bool IsMisdirected(ReadOnlySpan<byte> authority, ServerCertificate presented)
    {
        if (authority.IsEmpty || authority[0] == (byte)'[' || authority.Length > 256)
        {
            return false;
        }

        int colon = authority.LastIndexOf((byte)':');
        ReadOnlySpan<byte> hostBytes = colon >= 0 ? authority[..colon] : authority;
        Span<char> host = stackalloc char[hostBytes.Length];
        for (int i = 0; i < hostBytes.Length; i++)
        {
            host[i] = (char)hostBytes[i];
        }

        return !presented.Covers(host) && Match(host) is not null;
    }
}
