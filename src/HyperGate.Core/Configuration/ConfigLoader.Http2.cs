using HyperGate.Http2;

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
}
