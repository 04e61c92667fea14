using System.Net;
using System.Text;
using HyperGate.Upstreams.Health;

namespace HyperGate.Upstreams;

/// <summary>
/// One address of an upstream, with its pool of keep-alive connections and the load it carries. A destination
/// outlives config snapshots while its upstream keeps the address, so its load and latency survive reloads.
/// </summary>
public sealed class Destination
{
    /// <summary>How fast a latency sample's weight fades: after this long it counts for about a third.</summary>
    private static readonly TimeSpan LatencyDecay = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time;
    private int _inFlight;
    private int _consecutiveFailures;
    private double _latencyMicroseconds;
    private long _latencyTimestamp;

    /// <param name="hostHeader">The Host sent when a route does not preserve the client's: a discovered address's name and port; the address by default.</param>
    public Destination(string address, EndPoint endPoint, ConnectionPool pool, TimeProvider time, string? hostHeader = null)
    {
        _time = time;
        Address = address;
        EndPoint = endPoint;
        Pool = pool;
        HostHeaderValue = Encoding.ASCII.GetBytes(hostHeader ?? address);
    }

    /// <summary>The upstream of the current config this destination belongs to; it rebalances when health changes.</summary>
    internal Upstream? Owner { get; set; }

    /// <summary>False while active health checks fail (always true without them).</summary>
    internal bool ActiveHealthy { get; set; } = true;

    /// <summary>Until when outlier detection keeps it out (a timestamp; 0 when it never was).</summary>
    internal long EjectedUntil { get; private set; }

    /// <summary>Ejections in a row: each doubles the next one's length.</summary>
    internal int Ejections { get; private set; }

    /// <summary>Whether it was in the balancer's set at the last refresh (to notice it coming back).</summary>
    internal bool WasAvailable { get; set; } = true;

    /// <summary>When it came back, for slow start; 0 when it is not ramping up.</summary>
    internal long RampStart { get; set; }

    public DestinationHealth HealthAt(long timestamp) =>
        !ActiveHealthy ? DestinationHealth.Unhealthy : timestamp < EjectedUntil ? DestinationHealth.Ejected : DestinationHealth.Healthy;

    /// <summary>Failed exchanges in a row; a success resets it without writing when it is already zero.</summary>
    internal int RecordFailure() => Interlocked.Increment(ref _consecutiveFailures);

    internal void RecordSuccess()
    {
        if (Volatile.Read(ref _consecutiveFailures) != 0)
        {
            Volatile.Write(ref _consecutiveFailures, 0);
        }
    }

    /// <summary>Takes it out for the base time doubled per ejection in a row; a destination that stayed in long enough starts over.</summary>
    internal TimeSpan Eject(long now, OutlierSettings settings)
    {
        if (EjectedUntil != 0 && _time.GetElapsedTime(EjectedUntil, now) > settings.MaxEjection)
        {
            Ejections = 0;
        }

        TimeSpan duration = settings.BaseEjection * Math.Pow(2, Math.Min(Ejections, 30));
        duration = duration > settings.MaxEjection ? settings.MaxEjection : duration;
        Ejections++;
        EjectedUntil = now + (long)(duration.TotalSeconds * _time.TimestampFrequency);
        Volatile.Write(ref _consecutiveFailures, 0);
        return duration;
    }

    /// <summary>Requests sent here that have not finished (a WebSocket counts until it closes).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    internal void RequestStarted() => Interlocked.Increment(ref _inFlight);

    internal void RequestEnded() => Interlocked.Decrement(ref _inFlight);

    /// <summary>
    /// Peak EWMA of the time to the response head: a slower sample is taken at once, faster ones pull it down
    /// gradually, and with time it fades toward zero, so a destination shunned for being slow is tried again.
    /// Races between cores may lose a sample, which only makes the average a little less smooth.
    /// </summary>
    internal void ObserveLatency(double microseconds, long timestamp)
    {
        double current = LatencyAt(timestamp);
        Volatile.Write(ref _latencyMicroseconds, microseconds > current ? microseconds : current + (microseconds - current) * 0.3);
        Volatile.Write(ref _latencyTimestamp, timestamp);
    }

    /// <summary>The latency average as of <paramref name="timestamp"/>; zero before the first response.</summary>
    public double LatencyAt(long timestamp)
    {
        double latency = Volatile.Read(ref _latencyMicroseconds);
        long elapsed = timestamp - Volatile.Read(ref _latencyTimestamp);
        return latency == 0 || elapsed <= 0 ? latency : latency * Math.Exp(-_time.GetElapsedTime(0, elapsed) / LatencyDecay);
    }

    /// <summary>"host:port" as written in the config, or "ip:port" for an address found by discovery.</summary>
    public string Address { get; }

    public EndPoint EndPoint { get; }

    public ConnectionPool Pool { get; }

    /// <summary>The Host value sent when a route does not preserve the client's Host.</summary>
    public byte[] HostHeaderValue { get; }

    /// <summary>Parses "host:port" or "[v6]:port". A name that is not an IP literal is resolved by DNS at connect time.</summary>
    public static bool TryParseEndPoint(string address, out EndPoint? endPoint)
    {
        endPoint = null;
        if (IPEndPoint.TryParse(address, out IPEndPoint? ip) && ip.Port != 0 && address.Contains(':'))
        {
            endPoint = ip;
            return true;
        }

        int colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), out int port) || port is <= 0 or > 65535)
        {
            return false;
        }

        string host = address[..colon];
        if (Uri.CheckHostName(host) != UriHostNameType.Dns)
        {
            return false;
        }

        endPoint = new DnsEndPoint(host, port);
        return true;
    }
}
