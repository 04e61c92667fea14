namespace HyperGate.Tls;

/// <summary>
/// How a consumer's client certificate is recognised: by its subject (as the platform writes a distinguished name,
/// "CN=partner-7, O=Partners"), by one of its subject alternative names, or by its SHA-256 fingerprint
/// (lowercase hex); exactly one is set.
/// </summary>
public sealed record ClientCertificateMatch(string? Subject, string? San, string? Sha256)
{
    public bool Matches(TlsConnection connection) =>
        Sha256 is not null ? Sha256 == connection.ClientSha256
        : Subject is not null ? Subject == connection.ClientSubject
        : connection.ClientNames.Contains(San!, StringComparer.OrdinalIgnoreCase);
}
