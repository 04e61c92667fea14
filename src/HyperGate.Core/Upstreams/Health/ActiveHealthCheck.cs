using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;

namespace HyperGate.Upstreams.Health;

/// <summary>
/// Probes one destination on its own connections (never the pool's, so a probe cannot take a connection a
/// request needs, nor pass because a pooled connection happened to be warm). The first probe runs after a
/// random part of the interval, so that checks of many destinations do not fire together.
/// </summary>
internal sealed class ActiveHealthCheck : IDisposable
{
    private readonly Destination _destination;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Action<Destination> _changed;
    private readonly ITimer _timer;
    private const string UserAgent = "HyperGate-health-check";
    private readonly byte[] _request;
    private readonly Uri _http2Target;
    private int _passes;
    private int _failures;
    private volatile bool _disposed;

    public ActiveHealthCheck(Destination destination, HealthCheckSettings settings, TimeProvider time, Random random, Action<Destination> changed)
    {
        _destination = destination;
        Settings = settings;
        _time = time;
        _random = random;
        _changed = changed;
        _request = Encoding.ASCII.GetBytes($"GET {settings.Path} HTTP/1.1\r\nHost: {destination.Address}\r\nUser-Agent: {UserAgent}\r\nConnection: close\r\n\r\n");
        _http2Target = Http2Target(destination, settings.Path);
        _timer = time.CreateTimer(static state => _ = ((ActiveHealthCheck)state!).ProbeAsync(), this, settings.Interval * random.NextDouble(), Timeout.InfiniteTimeSpan);
    }

    public HealthCheckSettings Settings { get; }

    private async Task ProbeAsync()
    {
        bool passed = await PassesAsync();
        if (_disposed)
        {
            return;
        }

        Record(passed);
        _timer.Change(Settings.Interval * (0.9 + 0.2 * _random.NextDouble()), Timeout.InfiniteTimeSpan);
    }

    private void Record(bool passed)
    {
        if (passed)
        {
            _failures = 0;
            if (++_passes >= Settings.Healthy && !_destination.ActiveHealthy)
            {
                _destination.ActiveHealthy = true;
                _changed(_destination);
            }
        }
        else
        {
            _passes = 0;
            if (++_failures >= Settings.Unhealthy && _destination.ActiveHealthy)
            {
                _destination.ActiveHealthy = false;
                _changed(_destination);
            }
        }
    }

    /// <summary>Probes in the protocol requests use: HTTP/2 upstreams (an h2c-only one answers nothing else) over HTTP/2.</summary>
    private Task<bool> PassesAsync() => _destination.Pool.Settings.Http2 is null ? PassesOverHttp1Async() : PassesOverHttp2Async();

    /// <summary>Connects, sends the probe and reads the status line; any failure or a status outside the range fails.</summary>
    private async Task<bool> PassesOverHttp1Async()
    {
        using var timeout = new CancellationTokenSource(Settings.Timeout, _time);
        try
        {
            // Probed as requests are sent: over TLS when the upstream speaks TLS.
            Stream connection = await ConnectAsync(timeout.Token);
            await using Stream stream = _destination.Pool.Settings.Tls is { } tls
                ? await tls.HandshakeAsync(connection, _destination.Pool.Host, timeout.Token)
                : connection;
            await stream.WriteAsync(_request, timeout.Token);

            // "HTTP/1.1 200": the status line's first 12 bytes are all a probe needs.
            byte[] buffer = new byte[12];
            int length = 0;
            while (length < buffer.Length)
            {
                int read = await stream.ReadAsync(buffer.AsMemory(length), timeout.Token);
                if (read == 0)
                {
                    return false;
                }

                length += read;
            }

            return TryParseStatus(buffer, out int status) && Expected(status);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or AuthenticationException)
        {
            return false;
        }
    }

    /// <summary>
    /// The same probe as an HTTP/2 stream, by HttpClient over a connection of the probe's own: h2c by prior knowledge
    /// (RFC 9113 §3.3), or TLS with the upstream's trust settings where ALPN must choose h2 (§3.2). Handler and
    /// connection last one probe, as the HTTP/1.1 probe's do.
    /// </summary>
    private async Task<bool> PassesOverHttp2Async()
    {
        using var timeout = new CancellationTokenSource(Settings.Timeout, _time);
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            ConnectCallback = async (_, cancellationToken) => await ConnectAsync(cancellationToken),
            SslOptions = _destination.Pool.Settings.Tls?.ClientOptions(_destination.Pool.Host) ?? new SslClientAuthenticationOptions(),
        };
        using var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        using var probe = new HttpRequestMessage(HttpMethod.Get, _http2Target) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        probe.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        try
        {
            using HttpResponseMessage response = await client.SendAsync(probe, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            return Expected((int)response.StatusCode);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Where an HTTP/2 probe goes: the destination's address, or over TLS the name its certificate is checked
    /// against (HttpClient takes the server name from the URI; the connection still goes to the destination).
    /// </summary>
    private static Uri Http2Target(Destination destination, string path)
    {
        if (destination.Pool.Settings.Tls is not { } tls)
        {
            return new Uri($"http://{destination.Address}{path}");
        }

        int port = destination.EndPoint switch { IPEndPoint ip => ip.Port, DnsEndPoint dns => dns.Port, _ => 443 };
        return new UriBuilder(Uri.UriSchemeHttps, tls.ServerName ?? destination.Pool.Host, port, path).Uri;
    }

    /// <summary>A connection of the probe's own (never the pool's).</summary>
    private async Task<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(_destination.EndPoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new NetworkStream(socket, ownsSocket: true);
    }

    private bool Expected(int status) => status >= Settings.ExpectLow && status <= Settings.ExpectHigh;

    /// <summary>The status of a status line's first 12 bytes, "HTTP/1.x NNN".</summary>
    internal static bool TryParseStatus(ReadOnlySpan<byte> statusLine, out int status)
    {
        status = 0;
        return statusLine.Length >= 12 && statusLine.StartsWith("HTTP/1."u8) && statusLine[8] == (byte)' '
            && int.TryParse(statusLine.Slice(9, 3), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out status);
    }

    public void Dispose()
    {
        _disposed = true;
        _timer.Dispose();
    }
}
