using System.Net;
using System.Security.Cryptography;
using System.Text;
using HyperGate.Caching;
using HyperGate.Http1;
using HyperGate.Http2;
using HyperGate.RateLimiting;
using HyperGate.Tls;
using HyperGate.Upstreams;
using HyperGate.Upstreams.Discovery;

namespace HyperGate.Configuration;

/// <summary>
/// Reads a TOML config file into a <see cref="GatewayConfig"/>, checking everything that can be checked without
/// opening a socket, and reporting every problem at once with file:line:column and a hint.
/// </summary>
public static partial class ConfigLoader
{
    /// <summary>Concurrent downstream connections accepted before new ones are closed on arrival.</summary>
    public const int DefaultMaxConnections = 10_000;

    public static GatewayConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e switch
            {
                FileNotFoundException => "no such file",
                DirectoryNotFoundException => "no such directory",
                UnauthorizedAccessException => "permission denied",
                _ => e.Message,
            };
            throw new ConfigException([new ConfigError(SourceLocation.WholeFile(path), $"cannot read the config file: {reason}", "check the --config path (relative paths start from the current directory)")]);
        }

        return Parse(text, path);
    }

    public static GatewayConfig Parse(string text, string path)
    {
        var errors = new List<ConfigError>();
        TomlTableNode root = TomlDocument.Parse(text, path, errors);
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        var reader = new ConfigReader(root, string.Empty, errors);
        ServerConfig server = ReadServer(reader.Table("server"), errors, root.Location);
        LimitsConfig limits = ReadLimits(reader.Table("limits"));
        List<UpstreamConfig> upstreams = (reader.Table("upstreams")?.NamedTables() ?? []).Select(t => ReadUpstream(t.Name, t.Reader)).ToList();
        var upstreamNames = upstreams.Select(u => u.Name).ToHashSet(StringComparer.Ordinal);
        ClusterConfig cluster = ReadCluster(reader.Table("cluster"));
        List<RateLimitConfig> rateLimits = (reader.Table("rate_limits")?.NamedTables() ?? []).Select(t => ReadRateLimit(t.Name, t.Reader, cluster)).ToList();
        var rateLimitNames = rateLimits.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        List<ConsumerConfig> consumers = (reader.Table("consumers")?.NamedTables() ?? []).Select(t => ReadConsumer(t.Name, t.Reader)).ToList();
        List<AuthConfig> auth = (reader.Table("auth")?.NamedTables() ?? []).Select(t => ReadAuth(t.Name, t.Reader)).ToList();
        IdentityConfig identity = ReadIdentity(reader.Table("identity"));
        ConfigReader? accessTable = reader.Table("access");
        IpFilterConfig access = accessTable is null ? IpFilterConfig.None : ReadIpFilter(accessTable);
        accessTable?.RejectUnknownKeys();
        AdminConfig admin = ReadAdmin(reader.Table("admin"));
        AccessLogConfig accessLog = ReadAccessLog(reader.Table("access_log"));
        TracingConfig tracing = ReadTracing(reader.Table("tracing"));
        DnsSettings dns = ReadDns(reader.Table("dns"));
        Http2Settings http2 = ReadHttp2(reader.Table("http2"));
        TlsSettings tls = ReadTls(reader.Table("tls"), server, http2.Enabled, errors);
        CacheConfig cache = ReadCache(reader.Table("cache"));
        var authNames = auth.Select(a => a.Name).ToHashSet(StringComparer.Ordinal);
        string? requestIdHeader = ReadRequestId(reader.Table("request_id"));
        var routeNames = new RouteReferences(upstreamNames, rateLimitNames, authNames, GatewayRequestFields(identity, requestIdHeader), requestIdHeader);
        List<RouteConfig> routes = (reader.Table("routes")?.NamedTables() ?? []).Select(t => ReadRoute(t.Name, t.Reader, routeNames)).ToList();
        reader.RejectUnknownKeys();

        if (routes.Count == 0)
        {
            errors.Add(new ConfigError(root.Location, "no routes are defined", "add a [routes.NAME] table with a path or path_prefix"));
        }

        if (errors.Count > 0)
        {
            throw new ConfigException(SortByPosition(errors));
        }

        return new GatewayConfig(path, server, limits, upstreams, routes, rateLimits, cluster, consumers, auth, identity, access, admin, accessLog, tracing, dns)
        {
            // Certificates are files of their own: a renewed pair under the same names is a new version.
            Version = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
                text + string.Concat(tls.Certificates.Select(c => c.Leaf.Thumbprint)))))[..12],
            Tls = tls,
            Http2 = http2,
            Cache = cache,
            RequestIdHeader = requestIdHeader,
            Warnings = Warnings(upstreams),
            Source = root,
        };
    }

    /// <summary>What is valid but unsafe: said by <c>check</c> and logged at start and on reload, never refused.</summary>
    private static List<ConfigError> Warnings(List<UpstreamConfig> upstreams) =>
    [
        .. upstreams.Where(u => u.Tls is { Verify: false }).Select(u => new ConfigError(u.Location,
            $"upstreams.{u.Name}.tls: verify = false accepts any certificate, so anything on the path can pose as the upstream",
            "give its CA with ca = \"certs/ca.pem\" instead")),
    ];

    internal static List<ConfigError> SortByPosition(List<ConfigError> errors) =>
        [.. errors.OrderBy(e => e.Location.Line).ThenBy(e => e.Location.Column)];

    private static ServerConfig ReadServer(ConfigReader? server, List<ConfigError> errors, SourceLocation rootLocation)
    {
        if (server is null)
        {
            errors.Add(new ConfigError(rootLocation, "the [server] section is missing", "add [server] with listen = [\"127.0.0.1:8080\"]"));
            return new ServerConfig([], TimeSpan.FromSeconds(30), DefaultMaxConnections, true, [], true);
        }

        var listen = new List<ListenAddress>();
        foreach ((string address, SourceLocation location) in server.StringList("listen"))
        {
            AddListener("listen", address, location, tls: false, clientAuth: null);
        }

        foreach (TomlNode item in server.Items("listen_tls"))
        {
            switch (item)
            {
                case TomlScalar { Value: string address }:
                    AddListener("listen_tls", address, item.Location, tls: true, clientAuth: null);
                    break;
                case TomlTableNode table:
                    // { address = "0.0.0.0:8443", client_auth = "require", client_ca = "certs/partners-ca.pem" }
                    ConfigReader entry = server.ItemTable("listen_tls", table);
                    string? tableAddress = entry.String("address");
                    ClientCertificatePolicy? clientAuth = entry.Has("client_auth") ? ReadClientAuth(entry, server.Directory) : null;
                    entry.RejectUnknownKeys();
                    if (tableAddress is null)
                    {
                        entry.ErrorAt(item.Location, "address", "is required", "write { address = \"0.0.0.0:8443\", client_auth = \"require\", client_ca = \"certs/clients-ca.pem\" }");
                    }
                    else
                    {
                        AddListener("listen_tls", tableAddress, item.Location, tls: true, clientAuth);
                    }

                    break;
                default:
                    server.ErrorAt(item.Location, "listen_tls", "each entry must be an address or a table", "write \"0.0.0.0:443\" or { address = \"0.0.0.0:8443\", client_auth = \"require\", client_ca = \"certs/clients-ca.pem\" }");
                    break;
            }
        }

        void AddListener(string key, string address, SourceLocation location, bool tls, ClientCertificatePolicy? clientAuth)
        {
            if (!IPEndPoint.TryParse(address, out IPEndPoint? endPoint) || !address.Contains(':'))
            {
                errors.Add(new ConfigError(location, $"server.{key}: \"{address}\" is not an IP address and port", "write \"127.0.0.1:8080\" or \"[::1]:8080\""));
            }
            else if (endPoint.Port != 0 && listen.Any(l => l.EndPoint.Equals(endPoint)))
            {
                errors.Add(new ConfigError(location, $"server.{key}: {endPoint} is listed twice", "remove the repeated address (an address serves either plain HTTP or TLS)"));
            }
            else
            {
                listen.Add(new ListenAddress(endPoint, location, tls) { ClientAuth = clientAuth });
            }
        }

        if (!server.Has("listen") && !server.Has("listen_tls") || listen.Count == 0 && errors.Count == 0)
        {
            server.Error("listen", "at least one listen address is required", "write listen = [\"127.0.0.1:8080\"] (or listen_tls for HTTPS)");
        }

        TimeSpan drain = server.Duration("drain_timeout", TimeSpan.FromSeconds(30));
        int maxConnections = (int)server.Integer("max_connections", DefaultMaxConnections, 1, 10_000_000);
        bool caseSensitive = server.Bool("case_sensitive_routing", true);
        var trustedProxies = new List<IPNetwork>();
        foreach ((string text, SourceLocation location) in server.StringList("trusted_proxies"))
        {
            if (IPNetwork.TryParse(text, out IPNetwork network))
            {
                trustedProxies.Add(network);
            }
            else if (IPAddress.TryParse(text, out IPAddress? address))
            {
                trustedProxies.Add(new IPNetwork(address, address.GetAddressBytes().Length * 8));
            }
            else
            {
                server.ErrorAt(location, "trusted_proxies", $"\"{text}\" is not an IP address or CIDR range", "write \"10.0.0.0/8\", \"192.168.1.7\" or \"fd00::/8\"");
            }
        }

        bool watchConfig = server.Bool("watch_config", true);
        bool keepEncodedSlashes = ReadEncodedSlashes(server) ?? false;
        server.RejectUnknownKeys();
        return new ServerConfig(listen, drain, maxConnections, caseSensitive, trustedProxies, watchConfig, keepEncodedSlashes);
    }

    private static AdminConfig ReadAdmin(ConfigReader? admin)
    {
        if (admin is null)
        {
            return AdminConfig.None;
        }

        string? listen = admin.String("listen");
        bool allowPublic = admin.Bool("allow_public", false);
        if (listen is null)
        {
            admin.Error("listen", "is required in [admin]", "write listen = \"127.0.0.1:9901\", or remove [admin]");
        }
        else if (!IPEndPoint.TryParse(listen, out IPEndPoint? endPoint) || !listen.Contains(':'))
        {
            admin.Error("listen", $"\"{listen}\" is not an IP address and port", "write \"127.0.0.1:9901\"");
            listen = null;
        }
        else if (!IPAddress.IsLoopback(endPoint.Address) && !allowPublic)
        {
            // The admin API can reload the config and shows it: it must not be reachable from outside by accident.
            admin.Error("listen", $"\"{listen}\" is not a loopback address", "listen on 127.0.0.1, or set allow_public = true behind a firewall");
            listen = null;
        }

        var config = new AdminConfig(listen, admin.Bool("dashboard", true));
        admin.RejectUnknownKeys();
        return config;
    }

    private static AccessLogConfig ReadAccessLog(ConfigReader? log)
    {
        if (log is null)
        {
            return AccessLogConfig.None;
        }

        AccessLogConfig defaults = AccessLogConfig.None;
        string? path = log.String("path", "stdout");
        if (path is not null && path.Trim().Length == 0)
        {
            log.Error("path", "is empty", "write \"stdout\" or a file path such as \"/var/log/hypergate/access.log\"");
        }

        var config = new AccessLogConfig(
            path,
            log.Size("max_size", defaults.MaxSize, 4096, long.MaxValue),
            (int)log.Integer("max_files", defaults.MaxFiles, 1, 1000),
            (int)log.Integer("queue_size", defaults.QueueSize, 16, 16_777_216));
        log.RejectUnknownKeys();
        return config;
    }

    private static TracingConfig ReadTracing(ConfigReader? tracing)
    {
        if (tracing is null)
        {
            return TracingConfig.Default;
        }

        TracingConfig defaults = TracingConfig.Default;
        string? otlp = tracing.String("otlp_endpoint");
        if (otlp is not null && (!Uri.TryCreate(otlp, UriKind.Absolute, out Uri? endpoint) || endpoint.Scheme is not ("http" or "https")))
        {
            tracing.Error("otlp_endpoint", $"\"{otlp}\" is not an http(s) URL", "write the collector's OTLP address, such as \"http://127.0.0.1:4318\"");
            otlp = null;
        }

        var config = new TracingConfig(
            tracing.Fraction("sample_rate", defaults.SampleRate),
            otlp,
            tracing.String("service_name", defaults.ServiceName)!,
            tracing.Bool("server_timing", defaults.ServerTiming));
        tracing.RejectUnknownKeys();
        return config;
    }

    private static ClusterConfig ReadCluster(ConfigReader? cluster)
    {
        if (cluster is null)
        {
            return ClusterConfig.None;
        }

        string? redis = cluster.String("redis");
        if (redis is not null && redis.Trim().Length == 0)
        {
            cluster.Error("redis", "is empty", "write a StackExchange.Redis configuration string such as \"127.0.0.1:6379\"");
        }

        var config = new ClusterConfig(
            redis,
            (int)cluster.Integer("instances", 1, 1, 10_000),
            cluster.String("key_prefix", ClusterConfig.None.KeyPrefix)!);
        cluster.RejectUnknownKeys();
        return config;
    }

    private static RateLimitConfig ReadRateLimit(string name, ConfigReader limit, ClusterConfig cluster)
    {
        // The name is sent in the RateLimit header fields.
        if (name.Length == 0 || name.Any(c => c is < ' ' or > '~'))
        {
            limit.ErrorAt(limit.Location, "name", "a rate limit's name must be printable ASCII", "rename the table, such as [rate_limits.per_client]");
        }

        var key = new List<RateLimitKeyPart>();
        foreach ((string text, SourceLocation location) in limit.StringList("key"))
        {
            if (RateLimitKeyPart.TryParse(text, out RateLimitKeyPart? part))
            {
                key.Add(part!);
            }
            else
            {
                limit.ErrorAt(location, "key", $"\"{text}\" is not a key", "use \"consumer\", \"ip\", \"route\", \"header:NAME\", or a list of them");
            }
        }

        if (!limit.Has("key"))
        {
            key.Add(new RateLimitKeyPart(RateLimitKeyKind.Consumer));
        }

        string algorithmText = limit.String("algorithm", "token_bucket")!;
        RateLimitAlgorithm algorithm = algorithmText == "sliding_window" ? RateLimitAlgorithm.SlidingWindow : RateLimitAlgorithm.TokenBucket;
        if (algorithmText is not ("token_bucket" or "sliding_window"))
        {
            limit.Error("algorithm", $"\"{algorithmText}\" is not an algorithm", "use \"token_bucket\" or \"sliding_window\"");
        }

        long maxRate = algorithm == RateLimitAlgorithm.SlidingWindow ? SlidingWindowSettings.MaxLimit : 1_000_000_000;
        long rate = limit.Integer("rate", 1, 1, maxRate);
        if (!limit.Has("rate"))
        {
            limit.Error("rate", "is required", "write the number of requests allowed per period, such as rate = 100");
        }

        TimeSpan per = limit.Duration("per", TimeSpan.FromSeconds(1));
        if (!limit.Has("per"))
        {
            limit.Error("per", "is required", "write the period, such as per = \"1m\"");
        }

        long burst = limit.Integer("burst", rate, 1, 1_000_000_000);
        if (algorithm == RateLimitAlgorithm.SlidingWindow && limit.Has("burst"))
        {
            limit.Error("burst", "only applies to token_bucket", "remove burst: a sliding window allows rate requests in any window");
        }

        string scope = limit.String("scope", "local")!;
        if (scope is not ("local" or "cluster"))
        {
            limit.Error("scope", $"\"{scope}\" is not a scope", "use \"local\" or \"cluster\"");
        }

        bool clusterScope = scope == "cluster";
        if (clusterScope && cluster.Redis is null)
        {
            limit.Error("scope", "\"cluster\" needs a shared store", "add [cluster] with redis = \"127.0.0.1:6379\"");
        }

        long capacity = algorithm == RateLimitAlgorithm.TokenBucket ? burst : rate;
        long batch = limit.Integer("batch", Math.Clamp(capacity / 20, 1, 100), 1, 1_000_000);
        if (limit.Has("batch") && (!clusterScope || batch > capacity))
        {
            limit.Error("batch", clusterScope ? $"cannot be more than the limit's capacity ({capacity})" : "only applies to scope = \"cluster\"",
                clusterScope ? "a smaller batch also tightens the cluster bound" : "remove batch, or set scope = \"cluster\"");
        }

        string failure = limit.String("on_store_failure", "local")!;
        StoreFailureMode failureMode = failure switch
        {
            "allow" => StoreFailureMode.Allow,
            "deny" => StoreFailureMode.Deny,
            _ => StoreFailureMode.Local,
        };
        if (failure is not ("allow" or "deny" or "local"))
        {
            limit.Error("on_store_failure", $"\"{failure}\" is not a mode", "use \"local\", \"allow\" or \"deny\"");
        }
        else if (limit.Has("on_store_failure") && !clusterScope)
        {
            limit.Error("on_store_failure", "only applies to scope = \"cluster\"", "remove it, or set scope = \"cluster\"");
        }

        var config = new RateLimitConfig(
            name,
            limit.Location,
            key,
            algorithm,
            rate,
            per,
            algorithm == RateLimitAlgorithm.TokenBucket ? burst : rate,
            clusterScope,
            batch,
            failureMode,
            limit.Bool("headers", true),
            (int)limit.Integer("max_keys", 100_000, 1, 100_000_000));
        limit.RejectUnknownKeys();
        return config;
    }

    private static LimitsConfig ReadLimits(ConfigReader? limits)
    {
        DownstreamDefaults defaults = DownstreamDefaults.Instance;
        if (limits is null)
        {
            return defaults.Limits;
        }

        var result = new LimitsConfig(
            (int)limits.Size("max_head_size", defaults.Limits.MaxHeadSize, 1024, 1024 * 1024),
            (int)limits.Integer("max_header_count", defaults.Limits.MaxHeaderCount, 1, 10_000),
            (int)limits.Size("max_request_target_length", defaults.Limits.MaxRequestTargetLength, 16, 1024 * 1024),
            (int)limits.Size("max_header_name_length", defaults.Limits.MaxHeaderNameLength, 16, 64 * 1024),
            (int)limits.Size("max_header_line_length", defaults.Limits.MaxHeaderLineLength, 64, 1024 * 1024),
            limits.Size("max_body_size", defaults.Limits.MaxBodySize, 0, long.MaxValue / 2),
            limits.Duration("request_head_timeout", defaults.Limits.RequestHeadTimeout),
            limits.Duration("keepalive_timeout", defaults.Limits.KeepAliveTimeout),
            limits.Size("min_body_rate", defaults.Limits.MinBodyRate, 0, 1L << 30),
            limits.Duration("body_rate_grace", defaults.Limits.BodyRateGrace));
        limits.RejectUnknownKeys();
        if (result.MaxRequestTargetLength >= result.MaxHeadSize)
        {
            limits.Error("max_request_target_length", "must be smaller than max_head_size", "raise max_head_size or lower this limit");
        }

        return result;
    }

    private static UpstreamConfig ReadUpstream(string name, ConfigReader upstream)
    {
        UpstreamSettings defaults = UpstreamSettings.Default;
        List<TargetConfig> targets = ReadTargets(upstream);
        DiscoveryConfig discovery = ReadDiscovery(upstream);
        if (!upstream.Has("targets") && discovery.DnsSrv is null && discovery.TargetsFile is null)
        {
            upstream.Error("targets", "is required", "list the destinations: targets = [\"127.0.0.1:9001\"], or discover them with dns_srv or targets_file");
        }

        UpstreamTls? tls = ReadUpstreamTls(upstream);
        UpstreamHttp2? http2 = ReadUpstreamProtocol(upstream, ref tls);
        var config = new UpstreamConfig(
            name,
            upstream.Location,
            targets,
            upstream.Duration("connect_timeout", defaults.ConnectTimeout),
            upstream.Duration("response_timeout", defaults.ResponseTimeout),
            (int)upstream.Integer("max_idle_connections", defaults.MaxIdleConnections, 0, 100_000),
            upstream.Duration("idle_timeout", defaults.IdleTimeout),
            ReadBalance(upstream),
            ReadHealth(upstream),
            ReadProtection(upstream),
            discovery)
        {
            Tls = tls,
            Http2 = http2,
        };
        upstream.RejectUnknownKeys();
        return config;
    }

    /// <summary>What a route may refer to, and the fields its transforms may not name.</summary>
    private sealed record RouteReferences(HashSet<string> Upstreams, HashSet<string> RateLimits, HashSet<string> Auth, HashSet<string> GatewayRequestFields, string? RequestIdHeader);

    private static RouteConfig ReadRoute(string name, ConfigReader route, RouteReferences references)
    {
        HashSet<string> upstreamNames = references.Upstreams;
        string? host = route.String("host");
        if (host is not null && !IsValidHostPattern(host))
        {
            route.Error("host", $"\"{host}\" is not a host name or wildcard", "write \"api.example.com\" or \"*.example.com\" (lowercase, no port)");
        }

        string? path = ValidatePath(route, "path");
        string? prefix = ValidatePath(route, "path_prefix");
        if ((path is null) == (prefix is null) && !route.Has("path") && !route.Has("path_prefix"))
        {
            route.Error("path_prefix", "a route needs path or path_prefix", "add path_prefix = \"/\" to match every path");
        }
        else if (route.Has("path") && route.Has("path_prefix"))
        {
            route.Error("path", "path and path_prefix cannot both be set", "keep path for an exact match or path_prefix for a subtree");
        }

        var methods = new List<string>();
        foreach ((string method, SourceLocation location) in route.StringList("methods"))
        {
            if (method.Length == 0 || !HttpCharacters.IsToken(Encoding.ASCII.GetBytes(method)) || method != method.ToUpperInvariant())
            {
                route.ErrorAt(location, "methods", $"\"{method}\" is not a method", "methods are case-sensitive tokens such as \"GET\"");
            }
            else
            {
                methods.Add(method);
            }
        }

        List<PredicateConfig> predicates = [.. ReadPredicates(route, "headers"), .. ReadPredicates(route, "query")];
        int priority = (int)route.Integer("priority", 0, -1_000_000, 1_000_000);
        string? upstream = route.String("upstream");
        if (upstream is not null && !upstreamNames.Contains(upstream))
        {
            string known = upstreamNames.Count == 0 ? "none are defined" : $"defined: {string.Join(", ", upstreamNames.Order())}";
            route.Error("upstream", $"unknown upstream \"{upstream}\"", $"add [upstreams.{upstream}] ({known})");
        }

        bool strip = route.Bool("strip_prefix", false);
        string? rewrite = route.String("rewrite_prefix");
        if ((strip || rewrite is not null) && prefix is null)
        {
            route.Error(strip ? "strip_prefix" : "rewrite_prefix", "only applies to path_prefix routes", "use path_prefix, or remove this key");
        }

        if (rewrite is not null && (!rewrite.StartsWith('/') || !IsNormalized(rewrite)))
        {
            route.Error("rewrite_prefix", $"\"{rewrite}\" must be a normalized path starting with /", "write a path such as \"/v2\"");
        }

        if ((strip || rewrite is not null) && prefix is not null && prefix.Contains('{'))
        {
            route.Error(strip ? "strip_prefix" : "rewrite_prefix", "cannot be used with a prefix that has parameters", "use rewrite = \"...\", which can name them");
        }

        string? rewriteTemplate = ReadRewrite(route, path, prefix);

        bool preserveHost = route.Bool("preserve_host", true);
        DirectResponseConfig? respond = ReadDirectResponse(route.Table("respond"));
        RouteTrafficConfig traffic = ReadRouteTraffic(route, upstreamNames);
        VersioningConfig? versioning = ReadVersioning(route, upstreamNames);
        int answers = (route.Has("upstream") ? 1 : 0) + (route.Has("split") ? 1 : 0) + (respond is not null ? 1 : 0) + (route.Has("versions") ? 1 : 0);
        if (answers == 0)
        {
            route.Error("upstream", "a route needs an upstream, a split, versions or a respond table", "add upstream = \"NAME\" or respond = { status = 200, body = \"ok\" }");
        }
        else if (answers > 1)
        {
            route.Error(respond is not null ? "respond" : route.Has("versions") ? "versions" : "split", "upstream, split, versions and respond cannot be combined", "keep one of them (each version names its upstream)");
        }

        List<string> rateLimits = ReadReferences(route, "rate_limit", references.RateLimits, "rate limit", "rate_limits");
        List<string> auth = ReadReferences(route, "auth", references.Auth, "authenticator", "auth");
        RequireConfig require = RequireConfig.None;
        if (route.Table("require") is { } requireTable)
        {
            require = new RequireConfig([.. requireTable.StringList("scopes").Select(s => s.Value)], requireTable.StringListMap("claims"));
            requireTable.RejectUnknownKeys();
            if (auth.Count == 0)
            {
                route.Error("require", "needs authentication to check against", "add auth = [\"NAME\"] to this route");
            }
        }

        IpFilterConfig routeAccess = ReadIpFilter(route);
        CorsConfig? cors = route.Table("cors") is { } corsTable ? ReadCors(corsTable) : null;
        bool? keepEncodedSlashes = ReadEncodedSlashes(route);
        bool requireClientCert = route.Bool("require_client_cert", false);
        bool forwardClientCert = route.Bool("forward_client_cert", false);
        RouteCacheSettings? cache = ReadRouteCache(route);
        if (cache is not null && respond is not null)
        {
            route.Error("cache", "a route that answers itself (respond) has nothing to cache", "remove cache, or point the route at an upstream");
        }

        RouteTransformsConfig transforms = ReadTransforms(route, path, prefix, auth.Count > 0, references.GatewayRequestFields, references.RequestIdHeader);
        if (respond is not null && transforms != RouteTransformsConfig.None)
        {
            string key = transforms.RequestHeaders is not null ? "request_headers" : transforms.ResponseHeaders is not null ? "response_headers"
                : transforms.RequestQuery is not null ? "request_query" : transforms.RequestBody is not null ? "request_body" : "response_body";
            route.Error(key, "a route that answers itself (respond) has no upstream exchange to transform", "remove it, or point the route at an upstream");
        }

        CompressConfig? compress = ReadCompress(route);
        ValidateConfig? validate = ReadValidate(route);
        if (respond is not null && validate is not null)
        {
            route.Error("validate", "a route that answers itself (respond) has nothing to validate for", "remove it, or point the route at an upstream");
        }

        if (cache is not null && validate?.Response is not null)
        {
            route.Error("validate", "response_schema cannot be combined with cache: stored responses would go unchecked", "validate at the origin, or remove cache from this route");
        }

        if (respond is not null && compress is not null)
        {
            route.Error("compress", "a route that answers itself (respond) has no upstream response to compress", "remove it, or point the route at an upstream");
        }

        if (cache is not null && versioning is not null)
        {
            route.Error("cache", "cannot be combined with versions yet: the cache key does not hold the version", "cache on one route per version instead");
        }

        if (cache is not null && transforms.ResponseBody is not null)
        {
            route.Error("response_body", "cannot be combined with cache: a stored body would be served untransformed", "transform at the origin, or remove cache from this route");
        }

        route.RejectUnknownKeys();
        return new RouteConfig(name, route.Location, host?.ToLowerInvariant(), path, prefix, methods, predicates, priority, upstream, strip, rewrite, preserveHost, respond, rateLimits, auth, require, routeAccess, cors, traffic, keepEncodedSlashes)
        {
            RequireClientCertificate = requireClientCert,
            ForwardClientCertificate = forwardClientCert,
            Cache = cache,
            Rewrite = rewriteTemplate,
            Transforms = transforms,
            Compress = compress,
            Validate = validate,
            Versioning = versioning,
        };
    }

    /// <summary><c>encoded_slashes = "reject" | "keep"</c> (server-wide, or a route's override); null when absent.</summary>
    private static bool? ReadEncodedSlashes(ConfigReader table)
    {
        switch (table.String("encoded_slashes"))
        {
            case null:
                return null;
            case "reject":
                return false;
            case "keep":
                return true;
            case string other:
                table.Error("encoded_slashes", $"\"{other}\" is not a choice", "use \"reject\" (the default: %2F and %5C are refused) or \"keep\" (forwarded encoded, never a separator)");
                return null;
        }
    }

    private static IpFilterConfig ReadIpFilter(ConfigReader table)
    {
        List<IPNetwork> Read(string key)
        {
            var networks = new List<IPNetwork>();
            foreach ((string text, SourceLocation location) in table.StringList(key))
            {
                if (IPNetwork.TryParse(text, out IPNetwork network))
                {
                    networks.Add(network);
                }
                else if (IPAddress.TryParse(text, out IPAddress? address))
                {
                    networks.Add(new IPNetwork(address, address.GetAddressBytes().Length * 8));
                }
                else
                {
                    table.ErrorAt(location, key, $"\"{text}\" is not an IP address or CIDR range", "write \"10.0.0.0/8\", \"192.168.1.7\" or \"fd00::/8\"");
                }
            }

            return networks;
        }

        return new IpFilterConfig(Read("allow_ips"), Read("deny_ips"));
    }

    private static CorsConfig ReadCors(ConfigReader cors)
    {
        List<string> origins = [.. cors.StringList("origins").Select(o => o.Value)];
        foreach (string origin in origins.Where(o => o != "*"))
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https") || uri.GetLeftPart(UriPartial.Authority) != origin)
            {
                cors.Error("origins", $"\"{origin}\" is not an origin", "write scheme://host[:port] with no path, such as \"https://app.example.com\"");
            }
        }

        if (origins.Count == 0)
        {
            cors.Error("origins", "at least one origin is required", "write origins = [\"https://app.example.com\"]");
        }

        bool credentials = cors.Bool("credentials", false);
        if (credentials && origins.Contains("*"))
        {
            cors.Error("credentials", "cannot be combined with origins = [\"*\"]", "list the origins that may send credentials");
        }

        var config = new CorsConfig(
            origins,
            cors.Has("methods") ? [.. cors.StringList("methods").Select(m => m.Value)] : ["GET", "HEAD", "POST"],
            [.. cors.StringList("headers").Select(h => h.Value)],
            [.. cors.StringList("expose_headers").Select(h => h.Value)],
            credentials,
            cors.Duration("max_age", TimeSpan.FromMinutes(10)));
        cors.RejectUnknownKeys();
        return config;
    }

    /// <summary>A list of names that must each be defined in <c>[SECTION.NAME]</c>, each listed once.</summary>
    private static List<string> ReadReferences(ConfigReader route, string key, HashSet<string> defined, string what, string section)
    {
        var names = new List<string>();
        foreach ((string name, SourceLocation location) in route.StringList(key))
        {
            if (!defined.Contains(name))
            {
                string known = defined.Count == 0 ? "none are defined" : $"defined: {string.Join(", ", defined.Order())}";
                route.ErrorAt(location, key, $"unknown {what} \"{name}\"", $"add [{section}.{name}] ({known})");
            }
            else if (names.Contains(name))
            {
                route.ErrorAt(location, key, $"\"{name}\" is listed twice", "list each one once");
            }
            else
            {
                names.Add(name);
            }
        }

        return names;
    }

    private static ConsumerConfig ReadConsumer(string name, ConfigReader consumer)
    {
        var keyHashes = new List<byte[]>();
        foreach ((string text, SourceLocation location) in consumer.StringList("api_keys"))
        {
            if (Security.CredentialHashes.ParseKeyHash(text) is { } hash)
            {
                keyHashes.Add(hash);
            }
            else
            {
                consumer.ErrorAt(location, "api_keys", "is not \"sha256:\" and 64 lowercase hex digits", "store the hash, never the key: hypergate hash-key KEY prints it");
            }
        }

        string? user = null, passwordHash = null;
        if (consumer.Table("basic") is { } basic)
        {
            user = basic.String("user");
            passwordHash = basic.Secret("password_hash");
            if (user is null || user.Contains(':'))
            {
                basic.Error("user", "is required and cannot contain ':'", "write basic = { user = \"ci\", password_hash = \"...\" }");
            }

            if (passwordHash is null || !Security.CredentialHashes.IsPasswordHash(passwordHash))
            {
                basic.Error("password_hash", "is not a password hash", "hypergate hash-password PASSWORD prints one (pbkdf2-sha256$...)");
            }

            basic.RejectUnknownKeys();
        }

        var config = new ConsumerConfig(name, consumer.Location, keyHashes, user, passwordHash, consumer.StringListMap("claims"))
        {
            ClientCertificates = ReadClientCertificateMatches(consumer),
        };
        consumer.RejectUnknownKeys();
        return config;
    }

    private static readonly string[] JwtAlgorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"];

    private static AuthConfig ReadAuth(string name, ConfigReader auth)
    {
        string type = auth.String("type") ?? string.Empty;
        AuthType authType = type switch
        {
            "api_key" => AuthType.ApiKey,
            "jwt" => AuthType.Jwt,
            "basic" => AuthType.Basic,
            "client_cert" => AuthType.ClientCert,
            _ => AuthType.ApiKey,
        };
        if (type is not ("api_key" or "jwt" or "basic" or "client_cert"))
        {
            auth.Error("type", auth.Has("type") ? $"\"{type}\" is not an authentication type" : "is required", "use \"api_key\", \"jwt\", \"basic\" or \"client_cert\"");
        }

        string? header = null, query = null, issuer = null, jwksFile = null, jwksUrl = null, secret = null;
        List<string> audiences = [], algorithms = [];
        TimeSpan jwksRefresh = TimeSpan.FromMinutes(10), clockSkew = TimeSpan.FromSeconds(30), cacheTtl = TimeSpan.FromMinutes(1);
        string consumerClaim = "sub";
        switch (authType)
        {
            case AuthType.ApiKey:
                header = auth.String("header");
                query = auth.String("query");
                if (header is not null && query is not null)
                {
                    auth.Error("query", "header and query cannot both be set", "keep one of them");
                }

                if (header is not null && !HttpCharacters.IsToken(Encoding.ASCII.GetBytes(header)))
                {
                    auth.Error("header", $"\"{header}\" is not a header name", "write a name such as \"x-api-key\"");
                }

                header = header is null && query is null ? "x-api-key" : header?.ToLowerInvariant();
                break;
            case AuthType.Basic:
                cacheTtl = auth.Duration("cache_ttl", cacheTtl);
                break;
            case AuthType.Jwt:
                issuer = auth.String("issuer");
                if (issuer is null)
                {
                    auth.Error("issuer", "is required", "write the issuer tokens carry in \"iss\", such as \"https://id.example.com/\"");
                }

                audiences = [.. auth.StringList("audiences").Select(a => a.Value)];
                if (audiences.Count == 0)
                {
                    auth.Error("audiences", "at least one audience is required", "write audiences = [\"orders-api\"]");
                }

                foreach ((string algorithm, SourceLocation location) in auth.StringList("algorithms"))
                {
                    if (JwtAlgorithms.Contains(algorithm))
                    {
                        algorithms.Add(algorithm);
                    }
                    else
                    {
                        auth.ErrorAt(location, "algorithms", $"\"{algorithm}\" is not accepted", $"use {string.Join(", ", JwtAlgorithms)}; \"none\" never is");
                    }
                }

                if (!auth.Has("algorithms"))
                {
                    algorithms = ["RS256", "ES256"];
                }

                jwksFile = auth.String("jwks_file");
                jwksUrl = auth.String("jwks_url");
                secret = auth.Secret("secret");
                jwksRefresh = auth.Duration("jwks_refresh", jwksRefresh);
                clockSkew = auth.Duration("clock_skew", clockSkew);
                consumerClaim = auth.String("consumer_claim", consumerClaim)!;
                bool symmetric = algorithms.Any(a => a.StartsWith("HS", StringComparison.Ordinal));
                bool asymmetric = algorithms.Any(a => !a.StartsWith("HS", StringComparison.Ordinal));
                if (jwksFile is not null && jwksUrl is not null)
                {
                    auth.Error("jwks_url", "jwks_file and jwks_url cannot both be set", "keep one of them");
                }

                if (asymmetric && jwksFile is null && jwksUrl is null)
                {
                    auth.Error("algorithms", "RS, PS and ES algorithms need the issuer's keys", "add jwks_file = \"...\" or jwks_url = \"https://...\"");
                }

                if (symmetric && secret is null)
                {
                    auth.Error("algorithms", "HS algorithms need a shared secret", "add secret = \"${ENV:NAME}\"");
                }
                else if (!symmetric && secret is not null)
                {
                    auth.Error("secret", "a secret is only used by HS algorithms", "add \"HS256\" to algorithms, or remove the secret");
                }

                if (secret is not null && Encoding.UTF8.GetByteCount(secret) < 32)
                {
                    auth.Error("secret", "is shorter than 32 bytes", "use a random secret of at least 32 bytes for HS256");
                }

                if (jwksFile is not null && !File.Exists(jwksFile))
                {
                    auth.Error("jwks_file", $"\"{jwksFile}\" does not exist", "give a path relative to the working directory, or an absolute one");
                }

                if (jwksUrl is not null && !(Uri.TryCreate(jwksUrl, UriKind.Absolute, out Uri? url) && url.Scheme is "http" or "https"))
                {
                    auth.Error("jwks_url", $"\"{jwksUrl}\" is not an http(s) URL", "write the issuer's JWKS address, such as \"https://id.example.com/.well-known/jwks.json\"");
                }

                break;
        }

        var config = new AuthConfig(name, auth.Location, authType, header, query, issuer, audiences, jwksFile, jwksUrl, jwksRefresh, algorithms, clockSkew, consumerClaim, secret, cacheTtl);
        auth.RejectUnknownKeys();
        return config;
    }

    private static IdentityConfig ReadIdentity(ConfigReader? identity)
    {
        if (identity is null)
        {
            return IdentityConfig.Default;
        }

        string? consumerHeader = identity.String("consumer_header", IdentityConfig.Default.ConsumerHeader);
        var claimHeaders = new List<KeyValuePair<string, string>>();
        foreach ((string claim, string[] headers) in identity.StringListMap("claim_headers"))
        {
            claimHeaders.Add(new(claim, headers[0]));
        }

        foreach (string header in claimHeaders.Select(c => c.Value).Append(consumerHeader).OfType<string>().Where(h => h.Length > 0))
        {
            if (!HttpCharacters.IsToken(Encoding.ASCII.GetBytes(header)))
            {
                identity.Error("claim_headers", $"\"{header}\" is not a header name", "write names such as \"X-Consumer-Tier\"");
            }
        }

        var config = new IdentityConfig(consumerHeader?.Length == 0 ? null : consumerHeader, claimHeaders);
        identity.RejectUnknownKeys();
        return config;
    }

    private static DirectResponseConfig? ReadDirectResponse(ConfigReader? respond)
    {
        if (respond is null)
        {
            return null;
        }

        var config = new DirectResponseConfig(
            (int)respond.Integer("status", 200, 200, 599),
            respond.String("body", string.Empty)!,
            respond.String("content_type", "text/plain; charset=utf-8")!);
        respond.RejectUnknownKeys();
        return config;
    }

    /// <summary>A route path must already be in the form requests are normalized to, or it could never match.</summary>
    private static bool IsNormalized(string path)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(path);
        if (bytes.AsSpan().ContainsAnyExcept(HttpCharacters.RequestTarget) || path.Contains('?'))
        {
            return false;
        }

        var output = new byte[bytes.Length + 1];
        return PathNormalizer.Normalize(bytes, output, out int written, out _) == RejectionReason.None
            && output.AsSpan(0, written).SequenceEqual(bytes);
    }

    private static bool IsValidHostPattern(string host)
    {
        string name = host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host;
        return name.Length > 0 && host == host.ToLowerInvariant() && Uri.CheckHostName(name) is UriHostNameType.Dns or UriHostNameType.IPv4;
    }
}

/// <summary>The defaults of <c>[limits]</c>, in config form.</summary>
internal sealed class DownstreamDefaults
{
    public static DownstreamDefaults Instance { get; } = new();

    // The body rate defaults are Kestrel's: 240 bytes/s on average after a 5 s grace period.
    public LimitsConfig Limits { get; } = new(32 * 1024, 100, 8 * 1024, 256, 16 * 1024, 100L * 1024 * 1024, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60), 240, TimeSpan.FromSeconds(5));
}
