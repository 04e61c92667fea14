using HyperGate.Resilience;
using HyperGate.Upstreams;
using HyperGate.Upstreams.Balancing;
using HyperGate.Upstreams.Discovery;
using HyperGate.Upstreams.Health;

namespace HyperGate.Configuration;

/// <summary>Reading the traffic-management keys: targets, balancing and health of upstreams; retries, fallbacks, splits and mirrors of routes.</summary>
public static partial class ConfigLoader
{
    /// <summary>The <c>targets = [...]</c> of a TOML targets file; throws <see cref="ConfigException"/> with every error.</summary>
    public static IReadOnlyList<TargetConfig> ParseTargets(string text, string path)
    {
        var errors = new List<ConfigError>();
        TomlTableNode root = TomlDocument.Parse(text, path, errors);
        var reader = new ConfigReader(root, string.Empty, errors);
        List<TargetConfig> targets = errors.Count > 0 ? [] : ReadTargets(reader);
        reader.RejectUnknownKeys();
        return errors.Count > 0 ? throw new ConfigException(SortByPosition(errors)) : targets;
    }

    /// <summary>The <c>targets</c> list, each address once.</summary>
    private static List<TargetConfig> ReadTargets(ConfigReader table)
    {
        var targets = new List<TargetConfig>();
        foreach (TomlNode item in table.Items("targets"))
        {
            TargetConfig? target = ReadTarget(table, item);
            if (target is null)
            {
                continue;
            }

            if (targets.Any(t => string.Equals(t.Address, target.Address, StringComparison.OrdinalIgnoreCase)))
            {
                table.ErrorAt(target.Location, "targets", $"\"{target.Address}\" is listed twice", "list it once; give it a weight to send it more traffic");
                continue;
            }

            targets.Add(target);
        }

        return targets;
    }

    /// <summary>A target: "host:port", or { address = "host:port", weight = N }.</summary>
    private static TargetConfig? ReadTarget(ConfigReader upstream, TomlNode item)
    {
        const string Hint = "write \"127.0.0.1:9001\", \"[::1]:9001\", \"service.local:80\" or { address = \"127.0.0.1:9001\", weight = 3 }";
        (string? address, int weight) = (null, 1);
        switch (item)
        {
            case TomlScalar { Value: string text }:
                address = text;
                break;
            case TomlTableNode table:
                ConfigReader target = upstream.ItemTable("targets", table);
                address = target.String("address");
                weight = (int)target.Integer("weight", 1, 1, 1000);
                if (address is null)
                {
                    target.Error("address", "is required", Hint);
                }

                target.RejectUnknownKeys();
                break;
            default:
                upstream.ErrorAt(item.Location, "targets", "every target must be a string or an inline table", Hint);
                return null;
        }

        if (address is null)
        {
            return null;
        }

        if (!Destination.TryParseEndPoint(address, out _))
        {
            upstream.ErrorAt(item.Location, "targets", $"\"{address}\" is not host:port", Hint);
            return null;
        }

        return new TargetConfig(address, weight, item.Location);
    }

    private static BalanceSettings ReadBalance(ConfigReader upstream)
    {
        BalanceAlgorithm algorithm = BalanceSettings.Default.Algorithm;
        if (upstream.String("balance") is { } text)
        {
            if (BalanceSettings.ParseAlgorithm(text) is { } parsed)
            {
                algorithm = parsed;
            }
            else
            {
                upstream.Error("balance", $"\"{text}\" is not a balancing algorithm", "use p2c (the default), round_robin, least_requests, consistent_hash or random");
            }
        }

        HashKey? hashOn = null;
        if (upstream.String("hash_on") is { } keyText)
        {
            hashOn = HashKey.Parse(keyText);
            if (hashOn is null)
            {
                upstream.Error("hash_on", $"\"{keyText}\" is not a hash key", "use header:NAME, cookie:NAME, ip or path");
            }
            else if (algorithm != BalanceAlgorithm.ConsistentHash)
            {
                upstream.Error("hash_on", "applies only to balance = \"consistent_hash\"", "remove it, or set balance = \"consistent_hash\"");
            }
        }
        else if (algorithm == BalanceAlgorithm.ConsistentHash)
        {
            upstream.Error("balance", "consistent_hash needs hash_on", "add hash_on = \"header:x-user\", \"cookie:session\", \"ip\" or \"path\"");
        }

        double loadFactor = upstream.Number("hash_load_factor", BalanceSettings.Default.HashLoadFactor, 1, 100);
        return new BalanceSettings(algorithm, hashOn, loadFactor);
    }

    private static UpstreamHealthSettings ReadHealth(ConfigReader upstream)
    {
        UpstreamHealthSettings defaults = UpstreamHealthSettings.Default;
        HealthCheckSettings? check = null;
        if (upstream.Table("health_check") is { } checkTable)
        {
            HealthCheckSettings d = HealthCheckSettings.Default;
            string path = checkTable.String("path", d.Path)!;
            if (!path.StartsWith('/') || path.Any(c => c <= ' ' || c >= 0x7f))
            {
                checkTable.Error("path", $"\"{path}\" is not an absolute path", "write a path such as \"/healthz\"");
            }

            (int low, int high) = (d.ExpectLow, d.ExpectHigh);
            List<(long Value, SourceLocation Location)> expect = checkTable.IntegerList("expect");
            if (expect.Count == 2 && expect.All(e => e.Value is >= 100 and <= 599) && expect[0].Value <= expect[1].Value)
            {
                (low, high) = ((int)expect[0].Value, (int)expect[1].Value);
            }
            else if (checkTable.Has("expect"))
            {
                checkTable.Error("expect", "must be [lowest, highest] passing statuses", "write expect = [200, 399]");
            }

            check = new HealthCheckSettings(
                path,
                checkTable.Duration("interval", d.Interval),
                checkTable.Duration("timeout", d.Timeout),
                (int)checkTable.Integer("healthy", d.Healthy, 1, 100),
                (int)checkTable.Integer("unhealthy", d.Unhealthy, 1, 100),
                low,
                high);
            checkTable.RejectUnknownKeys();
        }

        OutlierSettings? outlier = null;
        if (upstream.Table("outlier") is { } outlierTable)
        {
            OutlierSettings d = OutlierSettings.Default;
            outlier = new OutlierSettings(
                (int)outlierTable.Integer("consecutive_failures", d.ConsecutiveFailures, 1, 1000),
                outlierTable.Duration("base_ejection", d.BaseEjection),
                outlierTable.Duration("max_ejection", d.MaxEjection),
                (int)outlierTable.Integer("max_ejected_percent", d.MaxEjectedPercent, 0, 100),
                outlierTable.Bool("count_5xx", d.Count5xx));
            if (outlier.MaxEjection < outlier.BaseEjection)
            {
                outlierTable.Error("max_ejection", "is shorter than base_ejection", "make it at least base_ejection");
            }

            outlierTable.RejectUnknownKeys();
        }

        return new UpstreamHealthSettings(
            check,
            outlier,
            (int)upstream.Integer("panic_threshold", defaults.PanicThreshold, 0, 100),
            upstream.Duration("slow_start", defaults.SlowStart));
    }

    private static UpstreamProtectionConfig ReadProtection(ConfigReader upstream)
    {
        CircuitBreakerSettings? breaker = null;
        if (upstream.Table("circuit_breaker") is { } table)
        {
            CircuitBreakerSettings d = CircuitBreakerSettings.Default;
            breaker = new CircuitBreakerSettings(
                table.Fraction("failure_ratio", d.FailureRatio),
                (int)table.Integer("min_requests", d.MinRequests, 1, 1_000_000),
                table.Duration("window", d.Window),
                table.Duration("open_for", d.OpenFor),
                (int)table.Integer("half_open_requests", d.HalfOpenRequests, 1, 1000));
            if (breaker.FailureRatio == 0)
            {
                table.Error("failure_ratio", "0 would open the circuit on any failure ratio", "use a ratio above 0, such as 0.5");
            }

            table.RejectUnknownKeys();
        }

        return new UpstreamProtectionConfig(
            breaker,
            (int)upstream.Integer("max_in_flight", 0, 0, 10_000_000),
            (int)upstream.Integer("max_pending", 0, 0, 10_000_000));
    }

    private static RouteTrafficConfig ReadRouteTraffic(ConfigReader route, HashSet<string> upstreamNames)
    {
        string? Reference(ConfigReader reader, string key, string? name, SourceLocation? at = null)
        {
            if (name is not null && !upstreamNames.Contains(name))
            {
                reader.ErrorAt(at ?? reader.LocationOf(key), key, $"unknown upstream \"{name}\"", $"define [upstreams.{name}], or name one of: {string.Join(", ", upstreamNames.Order())}");
                return null;
            }

            return name;
        }

        FallbackConfig? fallback = null;
        if (route.Has("fallback"))
        {
            fallback = route.IsTable("fallback")
                ? new FallbackConfig(null, ReadDirectResponse(route.Table("fallback")))
                : new FallbackConfig(Reference(route, "fallback", route.String("fallback")), null);
        }

        var split = new List<KeyValuePair<string, int>>();
        if (route.Table("split") is { } splitTable)
        {
            foreach ((string name, TomlNode value) in splitTable.Entries())
            {
                if (value is not TomlScalar { Value: long share } || share is < 0 or > 1_000_000)
                {
                    splitTable.Error(name, "must be a whole-number share from 0 to 1000000", "write split = { stable = 95, canary = 5 }");
                }
                else if (Reference(splitTable, name, name, value.Location) is not null)
                {
                    split.Add(new(name, (int)share));
                }
            }

            if (split.Count > 0 && split.All(s => s.Value == 0))
            {
                route.Error("split", "every share is 0", "give at least one upstream a share above 0");
            }
        }

        RetryConfig? retries = ReadRetries(route);
        string? mirror = Reference(route, "mirror", route.String("mirror"));

        // Bodies are kept for a second send only where something can send them twice.
        long bodyBuffer = route.Size("body_buffer", retries is not null || mirror is not null ? 64 * 1024 : 0, 0, 16 << 20);
        return new RouteTrafficConfig(
            retries,
            route.Duration("timeout", TimeSpan.Zero),
            route.Has("response_timeout") ? route.Duration("response_timeout", TimeSpan.Zero) : null,
            fallback,
            split,
            mirror,
            bodyBuffer);
    }

    private static RetryConfig? ReadRetries(ConfigReader route)
    {
        if (route.Table("retries") is not { } table)
        {
            return null;
        }

        RetryOn on = RetryOn.None;
        var statuses = new List<int>();
        foreach (TomlNode item in table.Items("on"))
        {
            switch (item)
            {
                case TomlScalar { Value: long status } when status is >= 400 and <= 599:
                    statuses.Add((int)status);
                    break;
                case TomlScalar { Value: "connect_failure" }:
                    on |= RetryOn.ConnectFailure;
                    break;
                case TomlScalar { Value: "reset" }:
                    on |= RetryOn.Reset;
                    break;
                case TomlScalar { Value: "timeout" }:
                    on |= RetryOn.Timeout;
                    break;
                default:
                    string text = item is TomlScalar { Value: string word } ? $"\"{word}\"" : item is TomlScalar scalar ? $"{scalar.Value}" : "a table";
                    table.ErrorAt(item.Location, "on", $"{text} is not a retry condition", "use \"connect_failure\", \"reset\", \"timeout\" or a status from 400 to 599");
                    break;
            }
        }

        if (!table.Has("on"))
        {
            on = RetryOn.ConnectFailure | RetryOn.Reset;
            statuses.AddRange([502, 503]);
        }

        var config = new RetryConfig(
            (int)table.Integer("attempts", 2, 1, 10),
            on,
            statuses,
            table.Number("budget_percent", 20, 0, 100),
            table.Duration("backoff", TimeSpan.FromMilliseconds(25)),
            table.Duration("max_backoff", TimeSpan.FromMilliseconds(250)),
            table.Bool("non_idempotent", false));
        table.RejectUnknownKeys();
        return config;
    }

    private static DiscoveryConfig ReadDiscovery(ConfigReader upstream)
    {
        string? service = upstream.String("dns_srv");
        if (service is not null && !IsDnsName(service))
        {
            upstream.Error("dns_srv", $"\"{service}\" is not a DNS name", "write the SRV name, such as \"_http._tcp.orders.example.com\"");
            service = null;
        }

        string? file = upstream.String("targets_file");
        string? path = null;
        if (file is not null)
        {
            path = Path.GetFullPath(Path.Combine(upstream.Directory, file));
            try
            {
                TargetsFile.Read(path);
            }
            catch (ConfigException e)
            {
                upstream.Error("targets_file", $"\"{file}\" cannot be used: {e.Errors[0]}", e.Errors.Count > 1 ? $"fix it ({e.Errors.Count} errors in all)" : "fix it");
            }
        }

        return new DiscoveryConfig(service, path);
    }

    private static bool IsDnsName(string name) =>
        name.Length is > 0 and <= 253 && name.TrimEnd('.').Split('.').All(label =>
            label.Length is > 0 and <= 63 && label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));

    private static DnsSettings ReadDns(ConfigReader? dns)
    {
        DnsSettings defaults = DnsSettings.Default;
        if (dns is null)
        {
            return defaults;
        }

        var servers = new List<System.Net.IPEndPoint>();
        foreach ((string text, SourceLocation location) in dns.StringList("servers"))
        {
            if (System.Net.IPEndPoint.TryParse(text, out System.Net.IPEndPoint? server))
            {
                servers.Add(server.Port == 0 ? new System.Net.IPEndPoint(server.Address, 53) : server);
            }
            else
            {
                dns.ErrorAt(location, "servers", $"\"{text}\" is not an IP address (with an optional port)", "write \"10.0.0.2\" or \"127.0.0.1:5353\"");
            }
        }

        var settings = new DnsSettings(servers, dns.Duration("min_ttl", defaults.MinTtl), dns.Duration("max_ttl", defaults.MaxTtl), dns.Duration("timeout", defaults.Timeout));
        if (settings.MaxTtl < settings.MinTtl)
        {
            dns.Error("max_ttl", "is shorter than min_ttl", "make it at least min_ttl");
        }

        dns.RejectUnknownKeys();
        return settings;
    }
}
