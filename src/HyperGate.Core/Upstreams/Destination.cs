using System.Net;
using System.Text;

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
    private double _latencyMicroseconds;
    private long _latencyTimestamp;

    public Destination(string address, EndPoint endPoint, ConnectionPool pool, TimeProvider time)
    {
        _time = time;
        Address = address;
        EndPoint = endPoint;
        Pool = pool;
        HostHeaderValue = Encoding.ASCII.GetBytes(address);
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

    /// <summary>"host:port" as written in the config.</summary>
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
