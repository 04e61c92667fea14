using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using HyperGate.Tls;

namespace HyperGate.Configuration;

/// <summary><c>[tls]</c>: the certificates HTTPS listeners present, loaded and checked as the config is read.</summary>
public static partial class ConfigLoader
{
    private static TlsSettings ReadTls(ConfigReader? tls, ServerConfig server, bool offerHttp2, List<ConfigError> errors)
    {
        bool listensTls = server.Listen.Any(l => l.Tls);
        if (tls is null)
        {
            if (listensTls)
            {
                errors.Add(new ConfigError(server.Listen.First(l => l.Tls).Location, "server.listen_tls: an HTTPS listener needs a certificate",
                    "add [tls] certificates = [{ cert = \"certs/site.pem\", key = \"certs/site.key\" }]"));
            }

            return TlsSettings.None;
        }

        string directory = tls.Directory;
        var certificates = new List<ServerCertificate>();
        var perCertificate = new Dictionary<ServerCertificate, ClientCertificatePolicy?>();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        bool ocspStapling = tls.Bool("ocsp_stapling", true);
        foreach ((ConfigReader entry, SourceLocation location) in tls.ItemTables("certificates", "write { cert = \"certs/site.pem\", key = \"certs/site.key\" }"))
        {
            string? cert = entry.String("cert");
            string? key = entry.String("key");
            List<(string Value, SourceLocation Location)> selfSigned = entry.StringList("self_signed");
            ClientCertificatePolicy? entryClientAuth = entry.Has("client_auth") ? ReadClientAuth(entry, directory) : null;
            entry.RejectUnknownKeys();
            if (selfSigned.Count > 0 && cert is null && key is null)
            {
                Add(ServerCertificate.SelfSigned([.. selfSigned.Select(n => n.Value)], location, now), entryClientAuth);
            }
            else if (cert is null || key is null)
            {
                entry.ErrorAt(location, cert is null ? "cert" : "key", "is required", "name the PEM certificate (chain) file and its PEM private key file, or ask for self_signed = [\"localhost\"] (for trying only)");
            }
            else
            {
                try
                {
                    Add(ServerCertificate.Load(Path.Combine(directory, cert), Path.Combine(directory, key), location, now, ocspStapling), entryClientAuth);
                }
                catch (CertificateException e)
                {
                    entry.ErrorAt(location, "cert", e.Message, "give a PEM certificate that is valid now and its own private key; the running certificates keep serving");
                }
            }
        }

        if (tls.Items("certificates").Count == 0)
        {
            tls.Error("certificates", "at least one certificate is required", "write certificates = [{ cert = \"certs/site.pem\", key = \"certs/site.key\" }]");
        }

        bool strictSni = tls.Bool("strict_sni", false);
        TimeSpan handshakeTimeout = tls.Duration("handshake_timeout", TimeSpan.FromSeconds(10));
        bool redirectHttp = tls.Bool("redirect_http", false);
        int httpsPort = (int)tls.Integer("https_port", server.Listen.FirstOrDefault(l => l.Tls)?.EndPoint.Port ?? 443, 1, 65535);
        byte[]? hsts = tls.Table("hsts") is { } hstsTable ? ReadStrictTransportSecurity(hstsTable) : null;

        // A certificate entry's own client_auth applies to the names it serves; the others get [tls]'s.
        ClientCertificatePolicy clientAuth = ReadClientAuth(tls, directory);
        tls.RejectUnknownKeys();
        var clientAuthentication = new Dictionary<ServerCertificate, ClientCertificatePolicy>();
        foreach (ServerCertificate certificate in certificates)
        {
            clientAuthentication[certificate] = perCertificate.GetValueOrDefault(certificate) ?? clientAuth;
        }

        return new TlsSettings(certificates, strictSni, handshakeTimeout, clientAuthentication, server.Listen.Where(l => l.Tls), offerHttp2)
        {
            RedirectHttp = redirectHttp,
            HttpsPort = httpsPort,
            StrictTransportSecurity = hsts,
        };

        void Add(ServerCertificate certificate, ClientCertificatePolicy? clientPolicy)
        {
            certificates.Add(certificate);
            perCertificate[certificate] = clientPolicy;
        }
    }

    /// <summary><c>client_auth = "none" | "optional" | "require"</c> with <c>client_ca</c>, the PEM bundle client certificates must chain to.</summary>
    private static ClientCertificatePolicy ReadClientAuth(ConfigReader tls, string directory)
    {
        ClientCertificateMode mode = tls.String("client_auth") switch
        {
            null or "none" => ClientCertificateMode.None,
            "optional" => ClientCertificateMode.Optional,
            "require" => ClientCertificateMode.Require,
            string other => Invalid(other),
        };
        string? caFile = tls.String("client_ca");
        if (mode == ClientCertificateMode.None)
        {
            return ClientCertificatePolicy.None;
        }

        if (caFile is null)
        {
            tls.Error("client_auth", "client certificates need a CA to verify them against", "add client_ca = \"certs/clients-ca.pem\"");
            return ClientCertificatePolicy.None;
        }

        X509Certificate2Collection ca = [];
        try
        {
            ca.ImportFromPemFile(Path.Combine(directory, caFile));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            tls.Error("client_ca", $"cannot read \"{caFile}\" as PEM certificates: {e.Message}", "give the PEM bundle of the CAs that sign client certificates");
        }

        return new ClientCertificatePolicy(mode, ca);

        ClientCertificateMode Invalid(string value)
        {
            tls.Error("client_auth", $"\"{value}\" is not a choice", "use \"optional\" (routes decide) or \"require\" (the handshake fails without one)");
            return ClientCertificateMode.None;
        }
    }

    /// <summary>RFC 6797 §6.1: Strict-Transport-Security: max-age=N [; includeSubDomains] [; preload].</summary>
    private static byte[] ReadStrictTransportSecurity(ConfigReader hsts)
    {
        TimeSpan maxAge = hsts.Duration("max_age", TimeSpan.FromDays(365));
        bool subdomains = hsts.Bool("include_subdomains", false);
        bool preload = hsts.Bool("preload", false);
        hsts.RejectUnknownKeys();
        string value = $"max-age={(long)maxAge.TotalSeconds}{(subdomains ? "; includeSubDomains" : "")}{(preload ? "; preload" : "")}";
        return Encoding.ASCII.GetBytes($"Strict-Transport-Security: {value}\r\n");
    }

    /// <summary>An upstream's <c>tls = true</c> or <c>tls = { server_name, ca, verify, client_cert, client_key }</c>.</summary>
    private static UpstreamTls? ReadUpstreamTls(ConfigReader upstream)
    {
        if (!upstream.IsTable("tls"))
        {
            return upstream.Bool("tls", false) ? new UpstreamTls(null, null, verify: true, null) : null;
        }

        ConfigReader tls = upstream.Table("tls")!;
        string directory = upstream.Directory;
        string? serverName = tls.String("server_name");
        bool verify = tls.Bool("verify", true);
        X509Certificate2Collection? roots = null;
        if (tls.String("ca") is { } ca)
        {
            try
            {
                roots = [];
                roots.ImportFromPemFile(Path.Combine(directory, ca));
                if (roots.Count == 0)
                {
                    tls.Error("ca", $"\"{ca}\" holds no PEM certificate", "give the PEM file of the CA that signed the upstream's certificate");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                tls.Error("ca", $"cannot read \"{ca}\" as PEM certificates: {e.Message}", "give the PEM file of the CA that signed the upstream's certificate");
            }
        }

        X509Certificate2? clientCertificate = null;
        string? clientCert = tls.String("client_cert");
        string? clientKey = tls.String("client_key");
        if (clientCert is not null || clientKey is not null)
        {
            try
            {
                clientCertificate = X509Certificate2.CreateFromPemFile(Path.Combine(directory, clientCert ?? ""), Path.Combine(directory, clientKey ?? ""));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                tls.Error(clientCert is null ? "client_key" : "client_cert", $"the client certificate cannot be loaded: {e.Message}",
                    "give both client_cert and client_key, PEM files of one pair");
            }
        }

        tls.RejectUnknownKeys();
        return new UpstreamTls(serverName, roots, verify, clientCertificate);
    }

    /// <summary>A consumer's <c>client_cert</c>: one table or a list, each <c>{ subject }</c>, <c>{ san }</c> or <c>{ sha256 }</c>.</summary>
    private static List<ClientCertificateMatch> ReadClientCertificateMatches(ConfigReader consumer)
    {
        var matches = new List<ClientCertificateMatch>();
        foreach ((ConfigReader entry, SourceLocation location) in consumer.ItemTables("client_cert", "write { subject = \"CN=partner, O=Example\" }, { san = \"partner.example.com\" } or { sha256 = \"HEX\" }"))
        {
            string? subject = entry.String("subject");
            string? san = entry.String("san");
            string? sha256 = entry.String("sha256")?.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
            entry.RejectUnknownKeys();
            if ((subject is null ? 0 : 1) + (san is null ? 0 : 1) + (sha256 is null ? 0 : 1) != 1)
            {
                entry.ErrorAt(location, "client_cert", "needs exactly one of subject, san and sha256", "write { sha256 = \"…\" } (the certificate's SHA-256 fingerprint), or a subject or SAN");
            }
            else if (sha256 is not null && (sha256.Length != 64 || !sha256.All(char.IsAsciiHexDigitLower)))
            {
                entry.ErrorAt(location, "sha256", "is not 64 hex digits", "openssl x509 -noout -fingerprint -sha256 -in client.pem prints it");
            }
            else
            {
                matches.Add(new ClientCertificateMatch(subject, san, sha256));
            }
        }

        return matches;
    }
}
