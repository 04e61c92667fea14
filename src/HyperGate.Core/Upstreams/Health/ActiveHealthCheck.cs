using System.Net.Sockets;
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
    private readonly byte[] _request;
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
        _request = Encoding.ASCII.GetBytes($"GET {settings.Path} HTTP/1.1\r\nHost: {destination.Address}\r\nUser-Agent: HyperGate-health-check\r\nConnection: close\r\n\r\n");
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

    /// <summary>Connects, sends the probe and reads the status line; any failure or a status outside the range fails.</summary>
    private async Task<bool> PassesAsync()
    {
        using var timeout = new CancellationTokenSource(Settings.Timeout, _time);
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(_destination.EndPoint, timeout.Token);

            // Probed as requests are sent: over TLS when the upstream speaks TLS.
            await using Stream stream = _destination.Pool.Settings.Tls is { } tls
                ? await tls.HandshakeAsync(new NetworkStream(socket, ownsSocket: false), _destination.Pool.Host, timeout.Token)
                : new NetworkStream(socket, ownsSocket: false);
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

            return TryParseStatus(buffer, out int status) && status >= Settings.ExpectLow && status <= Settings.ExpectHigh;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
    }

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
