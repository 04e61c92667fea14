using System.Net;
using System.Net.Sockets;

namespace HyperGate.Upstreams.Discovery;

/// <summary><c>[dns]</c>: the servers discovery asks (empty: those of /etc/resolv.conf) and the bounds on TTLs.</summary>
public sealed record DnsSettings(IReadOnlyList<IPEndPoint> Servers, TimeSpan MinTtl, TimeSpan MaxTtl, TimeSpan Timeout)
{
    public static DnsSettings Default { get; } = new([], TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(2));
}

/// <summary>The name could not be resolved now (no server answered, or it answered with a failure); try again later.</summary>
public sealed class DnsResolutionException(string message) : Exception(message);

/// <summary>
/// Resolves names for discovery, with their TTLs: /etc/hosts first (as the system resolver does; such entries
/// are re-read at the longest TTL), then the DNS servers over UDP, each in turn until one answers. A name that
/// does not exist, or has no record of the type, resolves to nothing; a server failure throws, so that the
/// caller keeps what it had.
/// </summary>
public sealed class DnsResolver(DnsSettings settings, TimeProvider time, string hostsFile = "/etc/hosts", string resolvConf = "/etc/resolv.conf")
{
    private readonly IReadOnlyList<IPEndPoint> _servers = settings.Servers.Count > 0 ? settings.Servers : SystemServers(resolvConf);

    public DnsSettings Settings { get; } = settings;

    /// <summary>The A and AAAA addresses of <paramref name="host"/> and how long they may be kept.</summary>
    public async Task<(IReadOnlyList<IPAddress> Addresses, TimeSpan Ttl)> ResolveAsync(string host)
    {
        if (FromHostsFile(host) is { Count: > 0 } listed)
        {
            return (listed, Settings.MaxTtl);
        }

        DnsAnswer v4 = await QueryAsync(host, DnsRecordType.A);
        DnsAnswer v6 = await QueryAsync(host, DnsRecordType.Aaaa);
        var records = v4.Addresses.Concat(v6.Addresses).ToList();
        return ([.. records.Select(r => r.Address).Distinct()], Clamp(records.Select(r => r.Ttl)));
    }

    /// <summary>The SRV records of <paramref name="service"/> and how long they may be kept.</summary>
    public async Task<(IReadOnlyList<SrvRecord> Records, TimeSpan Ttl)> ResolveServiceAsync(string service)
    {
        DnsAnswer answer = await QueryAsync(service, DnsRecordType.Srv);
        return (answer.Services, Clamp(answer.Services.Select(s => s.Ttl)));
    }

    private TimeSpan Clamp(IEnumerable<TimeSpan> ttls)
    {
        TimeSpan ttl = ttls.DefaultIfEmpty(Settings.MinTtl).Min();
        return ttl < Settings.MinTtl ? Settings.MinTtl : ttl > Settings.MaxTtl ? Settings.MaxTtl : ttl;
    }

    private async Task<DnsAnswer> QueryAsync(string name, DnsRecordType type)
    {
        if (_servers.Count == 0)
        {
            throw new DnsResolutionException("no DNS server is configured ([dns] servers) or listed in /etc/resolv.conf");
        }

        string? failure = null;
        foreach (IPEndPoint server in _servers)
        {
            ushort id = (ushort)Random.Shared.Next(ushort.MaxValue + 1);
            byte[] query = DnsMessage.Query(id, name, type);
            using var timeout = new CancellationTokenSource(Settings.Timeout, time);
            try
            {
                using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                await socket.ConnectAsync(server, timeout.Token);
                await socket.SendAsync(query, SocketFlags.None, timeout.Token);
                byte[] buffer = new byte[4096];
                while (true)
                {
                    int length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                    if (!DnsMessage.TryParse(buffer.AsSpan(0, length), id, out DnsAnswer? answer))
                    {
                        // A stray or malformed datagram: keep waiting for ours.
                        continue;
                    }

                    if (answer!.ResponseCode is 0 or DnsAnswer.NameError)
                    {
                        return answer;
                    }

                    failure = $"{server} answered {name} with response code {answer.ResponseCode}";
                    break;
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                failure = $"{server} did not answer for {name}: {(e is OperationCanceledException ? "timed out" : e.Message)}";
            }
        }

        throw new DnsResolutionException(failure!);
    }

    private List<IPAddress>? FromHostsFile(string host)
    {
        try
        {
            return [.. File.ReadLines(hostsFile)
                .Select(line => line.Split('#')[0].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                .Where(fields => fields.Length >= 2 && fields.Skip(1).Contains(host, StringComparer.OrdinalIgnoreCase) && IPAddress.TryParse(fields[0], out _))
                .Select(fields => IPAddress.Parse(fields[0]))
                .Distinct()];
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static List<IPEndPoint> SystemServers(string resolvConf)
    {
        try
        {
            return [.. File.ReadLines(resolvConf)
                .Select(line => line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                .Where(fields => fields.Length >= 2 && fields[0] == "nameserver" && IPAddress.TryParse(fields[1], out _))
                .Select(fields => new IPEndPoint(IPAddress.Parse(fields[1]), 53))];
        }
        catch (IOException)
        {
            return [];
        }
    }
}
