using System.Net;
using System.Text;

namespace HyperGate.Upstreams;

/// <summary>One address of an upstream, with its pool of keep-alive connections.</summary>
public sealed class Destination
{
    public Destination(string address, EndPoint endPoint, ConnectionPool pool)
    {
        Address = address;
        EndPoint = endPoint;
        Pool = pool;
        HostHeaderValue = Encoding.ASCII.GetBytes(address);
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
