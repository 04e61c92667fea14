using System.Net;
using HyperGate.Configuration;
using Microsoft.Extensions.Logging;

namespace HyperGate.Upstreams.Discovery;

/// <summary>
/// Where an upstream's changing destinations come from: targets written as names (re-resolved on their TTL),
/// <c>dns_srv</c> and <c>targets_file</c>. <see cref="Key"/> tells whether a reload changed any of it.
/// </summary>
public sealed record DiscoverySettings(IReadOnlyList<TargetConfig> Names, string? DnsSrv, string? TargetsFile, DnsSettings Dns)
{
    public string Key { get; } = string.Join("|", [
        .. Names.Select(n => $"{n.Address}*{n.Weight}"), DnsSrv, TargetsFile,
        .. Dns.Servers.Select(s => s.ToString()), Dns.MinTtl.ToString(), Dns.MaxTtl.ToString(), Dns.Timeout.ToString()]);
}

/// <summary>One address found by discovery: "ip:port", its weight, and the name:port it came from (for Host).</summary>
public sealed record DiscoveredTarget(string Address, IPEndPoint EndPoint, int Weight, string HostHeader);

/// <summary>
/// Keeps one upstream's discovered destinations current. A refresh resolves every name (A and AAAA), the SRV
/// name (its lowest priority, each record's weight and port, its target's addresses) and the targets file, then
/// publishes the set if it changed; the next refresh comes when the shortest TTL runs out (within [dns]'s
/// bounds), or at once when the targets file changes. A source that fails keeps its last answer, and is asked
/// again after the shortest TTL; a name that no longer exists takes its destinations away.
/// </summary>
internal sealed class UpstreamDiscovery : IDisposable
{
    private readonly DnsResolver _resolver;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<UpstreamDiscovery> _updated;
    private readonly Action<UpstreamDiscovery, string> _failed;
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private readonly Dictionary<string, List<DiscoveredTarget>> _lastAnswers = [];
    private readonly ITimer _timer;
    private readonly FilePoller? _watcher;
    private IReadOnlyList<TargetConfig> _fileTargets = [];
    private volatile bool _disposed;

    public UpstreamDiscovery(string upstream, DiscoverySettings settings, TimeProvider time, ILogger logger, Action<UpstreamDiscovery> updated, Action<UpstreamDiscovery, string> failed)
    {
        _failed = failed;
        UpstreamName = upstream;
        Settings = settings;
        _resolver = new DnsResolver(settings.Dns, time);
        _time = time;
        _logger = logger;
        _updated = updated;
        _timer = time.CreateTimer(static state => _ = ((UpstreamDiscovery)state!).RefreshAsync(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (settings.TargetsFile is { } file)
        {
            _watcher = new FilePoller([file], time, () => _timer.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan));
        }
    }

    public string UpstreamName { get; }

    public DiscoverySettings Settings { get; }

    /// <summary>The destinations found by the last refresh.</summary>
    public IReadOnlyList<DiscoveredTarget> Current { get; private set; } = [];

    /// <summary>The upstream of the current config that receives what is found.</summary>
    public Upstream? Attached { get; set; }

    /// <summary>The first refresh; the gateway waits for it before serving with this discovery.</summary>
    public Task Started { get; private set; } = Task.CompletedTask;

    public void Start() => Started = RefreshAsync();

    public async Task RefreshAsync()
    {
        await _refreshing.WaitAsync();
        try
        {
            if (_disposed)
            {
                return;
            }

            TimeSpan next = Settings.Dns.MaxTtl;
            void Until(TimeSpan ttl) => next = ttl < next ? ttl : next;

            if (Settings.TargetsFile is { } file)
            {
                try
                {
                    _fileTargets = TargetsFile.Read(file);
                }
                catch (ConfigException e)
                {
                    string errors = string.Join(Environment.NewLine, e.Errors);
                    _logger.LogError("upstream {Upstream}: the targets file is refused, its previous targets stay:{NewLine}{Errors}", UpstreamName, Environment.NewLine, errors);
                    _failed(this, errors);
                }
            }

            var found = new List<DiscoveredTarget>();
            foreach (TargetConfig target in Settings.Names.Concat(_fileTargets))
            {
                found.AddRange(await AnswerAsync(target.Address, async () =>
                {
                    // Validated when the targets were read: an address, or a name and a port.
                    Destination.TryParseEndPoint(target.Address, out EndPoint? endPoint);
                    if (endPoint is IPEndPoint literal)
                    {
                        return ([new DiscoveredTarget(target.Address, literal, target.Weight, target.Address)], Settings.Dns.MaxTtl);
                    }

                    var named = (DnsEndPoint)endPoint!;
                    (IReadOnlyList<IPAddress> addresses, TimeSpan ttl) = await _resolver.ResolveAsync(named.Host);
                    return ([.. addresses.Select(a => Target(a, named.Port, target.Weight, target.Address))], ttl);
                }, Until));
            }

            if (Settings.DnsSrv is { } service)
            {
                found.AddRange(await AnswerAsync(service, async () =>
                {
                    (IReadOnlyList<SrvRecord> records, TimeSpan ttl) = await _resolver.ResolveServiceAsync(service);
                    var targets = new List<DiscoveredTarget>();
                    int priority = records.Count == 0 ? 0 : records.Min(r => r.Priority);
                    foreach (SrvRecord record in records.Where(r => r.Priority == priority && r.Target.Length > 0))
                    {
                        (IReadOnlyList<IPAddress> addresses, TimeSpan addressTtl) = await _resolver.ResolveAsync(record.Target);
                        ttl = addressTtl < ttl ? addressTtl : ttl;
                        targets.AddRange(addresses.Select(a => Target(a, record.Port, Math.Clamp(record.Weight, 1, 1000), $"{record.Target}:{record.Port}")));
                    }

                    return (targets, ttl);
                }, Until));
            }

            List<DiscoveredTarget> distinct = [.. found.DistinctBy(t => t.Address)];
            if (!distinct.SequenceEqual(Current))
            {
                Current = distinct;
                _logger.LogInformation("upstream {Upstream}: {Count} destinations discovered ({Addresses})",
                    UpstreamName, distinct.Count, string.Join(", ", distinct.Select(t => t.Address)));
                _updated(this);
            }

            if (!_disposed)
            {
                _timer.Change(next, Timeout.InfiniteTimeSpan);
            }
        }
        finally
        {
            _refreshing.Release();
        }
    }

    /// <summary>One source's answer; on failure its last answer, asked again after the shortest TTL.</summary>
    private async Task<List<DiscoveredTarget>> AnswerAsync(string source, Func<Task<(List<DiscoveredTarget> Targets, TimeSpan Ttl)>> resolve, Action<TimeSpan> until)
    {
        try
        {
            (List<DiscoveredTarget> targets, TimeSpan ttl) = await resolve();
            until(ttl);
            _lastAnswers[source] = targets;
            return targets;
        }
        catch (DnsResolutionException e)
        {
            until(Settings.Dns.MinTtl);
            _logger.LogWarning("upstream {Upstream}: resolving {Source} failed ({Reason}); its last answer stays", UpstreamName, source, e.Message);
            _failed(this, e.Message);
            return _lastAnswers.GetValueOrDefault(source) ?? [];
        }
    }

    private static DiscoveredTarget Target(IPAddress address, int port, int weight, string hostHeader)
    {
        var endPoint = new IPEndPoint(address, port);
        return new DiscoveredTarget(endPoint.ToString(), endPoint, weight, hostHeader);
    }

    public void Dispose()
    {
        _disposed = true;
        _timer.Dispose();
        _watcher?.Dispose();
    }
}
