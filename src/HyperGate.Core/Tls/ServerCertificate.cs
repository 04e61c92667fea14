using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using HyperGate.Configuration;

namespace HyperGate.Tls;

/// <summary>
/// One <c>[tls] certificates</c> entry, loaded: the leaf with its private key, the chain sent with it, and the DNS
/// names (SAN entries) it serves. Built once per config load; handshakes share it.
/// </summary>
public sealed class ServerCertificate
{
    private static readonly Dictionary<string, ServerCertificate> SelfSignedCache = [];
    private readonly string[] _names;

    private ServerCertificate(X509Certificate2 leaf, X509Certificate2Collection intermediates, string[] names, SourceLocation location, string certPath, string keyPath, bool ocspStapling)
    {
        Leaf = leaf;
        CertPath = certPath;
        KeyPath = keyPath;
        _names = names;
        Location = location;

        // The chain is built once, from the PEM file's intermediates. With OCSP stapling (RFC 6066 §8) the platform asks
        // the responder the certificate names (its AIA extension) in the background, staples the answer once it has
        // one and renews it before it expires; it may then also fetch, once, here, an intermediate the file left out.
        // Never during a handshake.
        Context = SslStreamCertificateContext.Create(leaf, intermediates, offline: !ocspStapling);
    }

    public X509Certificate2 Leaf { get; }

    public SslStreamCertificateContext Context { get; }

    /// <summary>Lowercase DNS names from the SAN extension (the subject's CN when there is none); wildcards as "*.example.com".</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>The PEM files it was loaded from (absolute), watched for renewals; "(self-signed)" for a made one.</summary>
    public string CertPath { get; }

    public string KeyPath { get; }

    /// <summary>The config entry that names it, for errors and explanations.</summary>
    public SourceLocation Location { get; }

    public DateTimeOffset NotAfter => Leaf.NotAfter.ToUniversalTime();

    /// <summary>Whether one of its names covers <paramref name="host"/> (a wildcard covering exactly one label).</summary>
    public bool Covers(ReadOnlySpan<char> host)
    {
        host = host.TrimEnd('.');
        int dot = host.IndexOf('.');
        foreach (string name in _names)
        {
            bool covered = name.StartsWith("*.", StringComparison.Ordinal)
                ? dot > 0 && host[(dot + 1)..].Equals(name.AsSpan(2), StringComparison.OrdinalIgnoreCase)
                : host.Equals(name, StringComparison.OrdinalIgnoreCase);
            if (covered)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Loads a PEM certificate file (leaf first, then its chain) and its PEM private key (RSA or ECDSA). Refuses a file
    /// that does not parse, a key that does not belong to the certificate, and a certificate outside its validity.
    /// </summary>
    /// <exception cref="CertificateException">with a message fit for a config error.</exception>
    public static ServerCertificate Load(string certPath, string keyPath, SourceLocation location, DateTimeOffset now, bool ocspStapling)
    {
        X509Certificate2Collection chain = [];
        try
        {
            chain.ImportFromPemFile(certPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CertificateException($"cannot read \"{certPath}\": {Reason(e)}");
        }
        catch (CryptographicException)
        {
            throw new CertificateException($"\"{certPath}\" is not a PEM certificate");
        }

        if (chain.Count == 0)
        {
            throw new CertificateException($"\"{certPath}\" holds no PEM certificate");
        }

        string keyPem;
        try
        {
            keyPem = File.ReadAllText(keyPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CertificateException($"cannot read \"{keyPath}\": {Reason(e)}");
        }

        X509Certificate2 leaf;
        try
        {
            using X509Certificate2 publicOnly = chain[0];
            leaf = X509Certificate2.CreateFromPem(publicOnly.ExportCertificatePem(), keyPem);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new CertificateException(IsPrivateKey(keyPem)
                ? $"the key in \"{keyPath}\" does not belong to the certificate in \"{certPath}\""
                : $"\"{keyPath}\" is not a PEM private key (RSA or ECDSA)");
        }

        if (leaf.NotAfter.ToUniversalTime() < now.UtcDateTime)
        {
            throw new CertificateException($"the certificate in \"{certPath}\" expired on {leaf.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC");
        }

        if (leaf.NotBefore.ToUniversalTime() > now.UtcDateTime)
        {
            throw new CertificateException($"the certificate in \"{certPath}\" is not valid before {leaf.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC");
        }

        X509Certificate2Collection intermediates = [.. chain.Skip(1)];
        return new ServerCertificate(leaf, intermediates, DnsNames(leaf), location, Path.GetFullPath(certPath), Path.GetFullPath(keyPath), ocspStapling);
    }

    /// <summary>
    /// A self-signed ECDSA P-256 certificate for <paramref name="names"/> (DNS names or IP addresses), made in memory:
    /// for trying HTTPS and for tests, never for clients that verify. The same names get the same certificate across
    /// reloads while it has more than a day left.
    /// </summary>
    public static ServerCertificate SelfSigned(IReadOnlyList<string> names, SourceLocation location, DateTimeOffset now)
    {
        string key = string.Join(',', names).ToLowerInvariant();
        lock (SelfSignedCache)
        {
            if (SelfSignedCache.TryGetValue(key, out ServerCertificate? cached) && cached.NotAfter > now.AddDays(1))
            {
                return cached;
            }

            using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN={names[0]}", ecdsa, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            foreach (string name in names)
            {
                if (System.Net.IPAddress.TryParse(name, out System.Net.IPAddress? address))
                {
                    san.AddIpAddress(address);
                }
                else
                {
                    san.AddDnsName(name);
                }
            }

            request.CertificateExtensions.Add(san.Build());
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            X509Certificate2 leaf = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(30));
            string[] dnsNames = [.. names.Where(n => !System.Net.IPAddress.TryParse(n, out _)).Select(n => n.ToLowerInvariant())];
            var certificate = new ServerCertificate(leaf, [], dnsNames.Length > 0 ? dnsNames : [names[0]], location, "(self-signed)", "(self-signed)", ocspStapling: false);
            SelfSignedCache[key] = certificate;
            return certificate;
        }
    }

    private static bool IsPrivateKey(string pem)
    {
        foreach (AsymmetricAlgorithm key in (AsymmetricAlgorithm[])[ECDsa.Create(), RSA.Create()])
        {
            using (key)
            {
                try
                {
                    key.ImportFromPem(pem);
                    return true;
                }
                catch (Exception e) when (e is CryptographicException or ArgumentException)
                {
                    // Not this algorithm's key; try the next.
                }
            }
        }

        return false;
    }

    private static string[] DnsNames(X509Certificate2 leaf)
    {
        string[] names = [.. leaf.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(san => san.EnumerateDnsNames())
            .Select(name => name.ToLowerInvariant()).Distinct()];
        return names.Length > 0 ? names : [leaf.GetNameInfo(X509NameType.DnsName, forIssuer: false).ToLowerInvariant()];
    }

    private static string Reason(Exception e) => e switch
    {
        FileNotFoundException => "no such file",
        DirectoryNotFoundException => "no such directory",
        UnauthorizedAccessException => "permission denied",
        _ => e.Message,
    };
}

/// <summary>A certificate or key that cannot serve; the message names the file and the cause.</summary>
public sealed class CertificateException(string message) : Exception(message);
