using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>
/// Certificates made by the test run (<see cref="CertificateRequest"/>), written as PEM files in a directory of their
/// own that is removed with this object.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("hypergate-certs-").FullName;

    /// <summary>A self-signed certificate for <paramref name="names"/> (DNS SAN entries), ECDSA P-256 unless <paramref name="rsa"/>.</summary>
    public TestCertificate Create(string file, string[] names, bool rsa = false, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = key is RSA rsaKey
            ? new CertificateRequest($"CN={names[0]}", rsaKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest($"CN={names[0]}", (ECDsa)key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (string name in names)
        {
            san.AddDnsName(name);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        X509Certificate2 certificate = request.CreateSelfSigned(notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5), notAfter ?? DateTimeOffset.UtcNow.AddDays(30));

        string certPath = Path.Combine(Directory, file + ".pem");
        string keyPath = Path.Combine(Directory, file + ".key");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return new TestCertificate(certificate, certPath, keyPath);
    }

    /// <summary>A certificate authority (ECDSA P-256) whose PEM certificate and key are written as <paramref name="file"/>.pem and .key.</summary>
    public TestCertificate CreateAuthority(string file)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={file}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        X509Certificate2 authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30));
        string certPath = Path.Combine(Directory, file + ".pem");
        string keyPath = Path.Combine(Directory, file + ".key");
        File.WriteAllText(certPath, authority.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return new TestCertificate(authority, certPath, keyPath);
    }

    /// <summary>
    /// A server certificate for <paramref name="names"/> signed by <paramref name="authority"/>, naming
    /// <paramref name="ocspUrl"/> as its OCSP responder (RFC 5280 §4.2.2.1); its PEM file holds it and then the authority.
    /// </summary>
    public TestCertificate CreateIssued(string file, string[] names, TestCertificate authority, string ocspUrl)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (string name in names)
        {
            san.AddDnsName(name);
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension([ocspUrl], null));
        using X509Certificate2 issued = request.Create(authority.Certificate, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(10), RandomNumberGenerator.GetBytes(8));
        string certPath = Path.Combine(Directory, file + ".pem");
        string keyPath = Path.Combine(Directory, file + ".key");
        File.WriteAllText(certPath, issued.ExportCertificatePem() + "\n" + authority.Certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return new TestCertificate(X509CertificateLoader.LoadCertificate(issued.RawData), certPath, keyPath);
    }

    /// <summary>A client certificate (clientAuth) for <paramref name="subject"/>, signed by <paramref name="authority"/>, with its key.</summary>
    public static X509Certificate2 CreateClient(string subject, TestCertificate authority)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using X509Certificate2 issued = request.Create(authority.Certificate, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(10), RandomNumberGenerator.GetBytes(8));
        using X509Certificate2 withKey = issued.CopyWithPrivateKey(key);

        // Exported and loaded again: OpenSSL wants a key it can use for the handshake's signature.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>A generated certificate and where its PEM files are.</summary>
public sealed record TestCertificate(X509Certificate2 Certificate, string CertPath, string KeyPath)
{
    /// <summary>The entry for <c>[tls] certificates</c>.</summary>
    public string Entry => $"{{ cert = \"{CertPath}\", key = \"{KeyPath}\" }}";

    public string Thumbprint => Certificate.Thumbprint;
}
