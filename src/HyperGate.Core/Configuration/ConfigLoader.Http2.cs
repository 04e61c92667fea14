using HyperGate.Http2;
using HyperGate.Tls;
using HyperGate.Upstreams;

namespace HyperGate.Configuration;

public static partial class ConfigLoader
{
    /// <summary><c>[http2]</c>: HTTP/2 at the edge (ALPN h2 on TLS listeners, h2c by prior knowledge on plain ones) and its limits.</summary>
    private static Http2Settings ReadHttp2(ConfigReader? table)
    {
        if (table is null)
        {
            return Http2Settings.Default;
        }

        Http2Settings defaults = Http2Settings.Default;
        var settings = new Http2Settings(
            table.Bool("enabled", defaults.Enabled),
            table.Bool("h2c", defaults.H2c),
            (int)table.Integer("max_concurrent_streams", defaults.MaxConcurrentStreams, 1, 10_000),
            (int)table.Size("initial_window_size", defaults.InitialWindowSize, 16 * 1024, int.MaxValue),
            (int)table.Size("connection_window_size", defaults.ConnectionWindowSize, 64 * 1024, int.MaxValue),
            (int)table.Size("max_header_list_size", defaults.MaxHeaderListSize, 4 * 1024, 1024 * 1024),
            (int)table.Integer("max_resets", defaults.MaxResets, 1, 1_000_000),
            (int)table.Integer("max_control_frames", defaults.MaxControlFrames, 10, 1_000_000),
            table.Duration("send_timeout", defaults.SendTimeout));
        table.RejectUnknownKeys();
        return settings;
    }

    /// <summary>
    /// An upstream's <c>protocol</c>: <c>"http1"</c> (the default), <c>"h2"</c> (HTTP/2 over TLS, chosen by ALPN:
    /// the upstream needs <c>tls</c>) or <c>"h2c"</c> (HTTP/2 by prior knowledge, plain), with how many multiplexed
    /// connections each destination gets and how often they are pinged.
    /// </summary>
    private static UpstreamHttp2? ReadUpstreamProtocol(ConfigReader upstream, ref UpstreamTls? tls)
    {
        string protocol = upstream.String("protocol", "http1")!;
        int connections = (int)upstream.Integer("h2_connections", 1, 1, 64);
        TimeSpan ping = upstream.Duration("h2_ping_interval", TimeSpan.FromSeconds(30));
        switch (protocol)
        {
            case "http1":
                return null;
            case "h2" when tls is null:
                upstream.Error("protocol", "\"h2\" is HTTP/2 over TLS, and the upstream has no tls", "add tls = true, or use \"h2c\" for HTTP/2 without TLS");
                return null;
            case "h2c" when tls is not null:
                upstream.Error("protocol", "\"h2c\" is HTTP/2 without TLS, and the upstream has tls", "use \"h2\" for HTTP/2 over TLS");
                return null;
            case "h2":
                tls = tls!.ForHttp2();
                return new UpstreamHttp2(connections, ping);
            case "h2c":
                return new UpstreamHttp2(connections, ping);
            default:
                upstream.Error("protocol", $"\"{protocol}\" is not a protocol", "write \"http1\", \"h2\" or \"h2c\"");
                return null;
        }
    }
}
