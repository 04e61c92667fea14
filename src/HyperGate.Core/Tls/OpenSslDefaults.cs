using System.Net.Security;
using System.Runtime.InteropServices;

namespace HyperGate.Tls;

/// <summary>
/// TLS 1.2's cipher list, set as OpenSSL's system default rather than per handshake. A per-handshake list
/// (<see cref="CipherSuitesPolicy"/>) makes the platform build a new OpenSSL context for every connection: no
/// session outlives its connection (no resumption) and every handshake pays for the context (bench/RESULTS.md, TLS:
/// 0.48× HAProxy's handshake rate with it, 0.91× without). With the list in OpenSSL's configuration the platform
/// keeps one context per certificate, and the list still holds: ECDHE with AES-GCM or ChaCha20-Poly1305 only
/// (RFC 9325 §4.2). TLS 1.3's suites are all AEAD and stay OpenSSL's.
/// </summary>
public static partial class OpenSslDefaults
{
    public const string CipherString = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL";

    private const string Config = $"""
        # HyperGate's TLS defaults, read once as the process starts OpenSSL.
        openssl_conf = hypergate_init

        [hypergate_init]
        ssl_conf = hypergate_ssl

        [hypergate_ssl]
        system_default = hypergate_tls

        [hypergate_tls]
        CipherString = {CipherString}

        """;

    /// <summary>
    /// Points OpenSSL at HyperGate's defaults and starts it, before anything else in the process uses it; returns
    /// false where they do not apply: not Linux, or the operator's own <c>OPENSSL_CONF</c> is in charge.
    /// </summary>
    public static bool Apply()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("OPENSSL_CONF") is { Length: > 0 })
        {
            return false;
        }

        // A file only this process's user can write, read once while OpenSSL starts, then removed.
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, Config);
            if (SetEnvironment("OPENSSL_CONF", path, 1) != 0)
            {
                return false;
            }

            // Checking a cipher list makes the platform start OpenSSL's TLS library, which reads the configuration.
            _ = new CipherSuitesPolicy([TlsCipherSuite.TLS_AES_128_GCM_SHA256]);
            return true;
        }
        finally
        {
            File.Delete(path);
        }
    }

    // The runtime keeps its own copy of the environment; OpenSSL reads the C library's.
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnvironment(string name, string value, int overwrite);
}
