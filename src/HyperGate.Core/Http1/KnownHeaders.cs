using System.Text;

namespace HyperGate.Http1;

internal static class KnownHeaders
{
    /// <summary>Classifies a header name without allocating: a switch on length, then an ASCII case-insensitive compare.</summary>
    public static KnownHeader Classify(ReadOnlySpan<byte> name)
    {
        switch (name.Length)
        {
            case 2:
                return Ascii.EqualsIgnoreCase(name, "te"u8) ? KnownHeader.Te : KnownHeader.None;
            case 4:
                return Ascii.EqualsIgnoreCase(name, "host"u8) ? KnownHeader.Host : KnownHeader.None;
            case 6:
                return Ascii.EqualsIgnoreCase(name, "expect"u8) ? KnownHeader.Expect : KnownHeader.None;
            case 7:
                if (Ascii.EqualsIgnoreCase(name, "upgrade"u8)) return KnownHeader.Upgrade;
                if (Ascii.EqualsIgnoreCase(name, "trailer"u8)) return KnownHeader.Trailer;
                break;
            case 10:
                if (Ascii.EqualsIgnoreCase(name, "connection"u8)) return KnownHeader.Connection;
                if (Ascii.EqualsIgnoreCase(name, "keep-alive"u8)) return KnownHeader.KeepAlive;
                break;
            case 11:
                if (Ascii.EqualsIgnoreCase(name, "traceparent"u8)) return KnownHeader.Traceparent;
                if (Ascii.EqualsIgnoreCase(name, "client-cert"u8)) return KnownHeader.ClientCert;
                break;
            case 14:
                if (Ascii.EqualsIgnoreCase(name, "content-length"u8)) return KnownHeader.ContentLength;
                if (Ascii.EqualsIgnoreCase(name, "http2-settings"u8)) return KnownHeader.Http2Settings;
                break;
            case 15:
                if (Ascii.EqualsIgnoreCase(name, "x-forwarded-for"u8)) return KnownHeader.XForwardedFor;
                break;
            case 16:
                if (Ascii.EqualsIgnoreCase(name, "x-forwarded-host"u8)) return KnownHeader.XForwardedHost;
                if (Ascii.EqualsIgnoreCase(name, "proxy-connection"u8)) return KnownHeader.ProxyConnection;
                break;
            case 17:
                if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8)) return KnownHeader.TransferEncoding;
                if (Ascii.EqualsIgnoreCase(name, "x-forwarded-proto"u8)) return KnownHeader.XForwardedProto;
                if (Ascii.EqualsIgnoreCase(name, "client-cert-chain"u8)) return KnownHeader.ClientCertChain;
                break;
        }

        // Proxy-Authorization, Proxy-Authenticate and any other Proxy-* field belong to the hop, not the message.
        return name.Length > 6 && Ascii.EqualsIgnoreCase(name[..6], "proxy-"u8) ? KnownHeader.ProxyOther : KnownHeader.None;
    }
}
