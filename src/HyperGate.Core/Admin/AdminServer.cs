using System.Diagnostics.Metrics;
using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using HyperGate.Caching;
using HyperGate.Caching.Fleet;
using HyperGate.Configuration;
using HyperGate.Diagnostics;
using HyperGate.Hosting;
using HyperGate.Routing;
using HyperGate.Resilience;
using HyperGate.Tls;
using HyperGate.Upstreams;
using HyperGate.Upstreams.Health;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace HyperGate.Admin;

/// <summary>
/// The operations listener (<c>[admin]</c>): an ordinary ASP.NET Core app in the same process, on its own
/// address, never in the data plane's request path. Metrics, health, status, the running config, reload,
/// explain, and the live dashboard.
/// </summary>
public sealed class AdminServer : IAsyncDisposable
{
    /// <summary>Readable output; the relaxed encoder keeps '+' and quotes legible (the content type is JSON, never HTML).</summary>
    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly WebApplication _app;
    private readonly GatewayRuntime _runtime;
    private readonly ConfigReloader _reloader;
    private readonly Func<IReadOnlyList<string>> _listeners;
    private readonly DashboardMetrics _dashboard = new();

    private AdminServer(AdminConfig config, GatewayRuntime runtime, ConfigReloader reloader, Func<IReadOnlyList<string>> listeners, Action<ILoggingBuilder> logging)
    {
        _runtime = runtime;
        _reloader = reloader;
        _listeners = listeners;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        logging(builder.Logging);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPEndPoint.Parse(config.Listen!));
        });
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => ConfigureMetrics(metrics, runtime.Telemetry)
            // Every scrape reads the instruments as they are (the exporter's default reuses an answer for 300 ms,
            // so a scrape right after a reload or a request would not show it).
            .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0)
            .AddReader(_dashboard.Reader));
        _app = builder.Build();
        _app.MapPrometheusScrapingEndpoint("/metrics");
        _app.MapGet("/health", context => WriteJson(context, 200, new JsonObject { ["status"] = "alive" }));
        _app.MapGet("/ready", Ready);
        _app.MapGet("/status", context => WriteJson(context, 200, Status()));
        _app.MapGet("/config", context => WriteJson(context, 200, RunningConfig()));
        _app.MapPost("/reload", Reload);
        _app.MapGet("/explain", Explain);
        _app.MapPost("/cache/purge", PurgeCache);
        if (config.Dashboard)
        {
            _app.MapGet("/", Dashboard.WritePageAsync);
            _app.MapGet("/api/dashboard", context => WriteJson(context, 200, DashboardData()));
        }
    }

    /// <summary>The admin listener's bound address (the real port when the config asked for port 0).</summary>
    public Uri Address { get; private set; } = null!;

    public static async Task<AdminServer> StartAsync(AdminConfig config, GatewayRuntime runtime, ConfigReloader reloader, Func<IReadOnlyList<string>> listeners, Action<ILoggingBuilder> logging)
    {
        var server = new AdminServer(config, runtime, reloader, listeners, logging);
        await server._app.StartAsync();
        server.Address = new Uri(server._app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return server;
    }

    /// <summary>
    /// The gateway's instruments, with duration histograms in seconds. Gateways in one process share the meter
    /// name, so instruments of another instance are dropped.
    /// </summary>
    public static MeterProviderBuilder ConfigureMetrics(MeterProviderBuilder metrics, GatewayTelemetry telemetry) => metrics
        .ConfigureResource(resource => resource.AddService(telemetry.ServiceName))
        .AddMeter(GatewayMetrics.MeterName)
        .AddView(instrument => !telemetry.Metrics.Owns(instrument) ? MetricStreamConfiguration.Drop
            : instrument is Histogram<double> ? new ExplicitBucketHistogramConfiguration { Boundaries = GatewayMetrics.DurationBuckets }
            : null);

    private Task Ready(HttpContext context)
    {
        // An upstream with active health checks needs a destination passing them; without, every destination counts.
        var problems = new JsonArray();
        long now = _runtime.TimeProvider.GetTimestamp();
        foreach (Upstream upstream in _runtime.Snapshot.Upstreams.Values)
        {
            if (upstream.Destinations.Length == 0)
            {
                problems.Add((JsonNode)$"upstream \"{upstream.Name}\" has no destination");
            }
            else if (upstream.Health.Check is not null && upstream.Destinations.All(d => d.HealthAt(now) == DestinationHealth.Unhealthy))
            {
                problems.Add((JsonNode)$"upstream \"{upstream.Name}\" has no destination passing its health checks");
            }
        }

        if (_listeners().Count == 0)
        {
            problems.Add((JsonNode)"no data-plane listener is bound");
        }

        return WriteJson(context, problems.Count == 0 ? 200 : 503, new JsonObject
        {
            ["status"] = problems.Count == 0 ? "ready" : "not_ready",
            ["problems"] = problems,
        });
    }

    private JsonObject Status()
    {
        GatewaySnapshot snapshot = _runtime.Snapshot;
        GatewayConfig config = snapshot.Config;
        return new JsonObject
        {
            ["version"] = typeof(AdminServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
            ["started_at"] = _runtime.StartedAt,
            ["uptime_seconds"] = Math.Round((_runtime.TimeProvider.GetUtcNow() - _runtime.StartedAt).TotalSeconds, 1),
            ["config"] = new JsonObject
            {
                ["path"] = config.SourcePath,
                ["version"] = config.Version,
                ["last_reload_at"] = _reloader.LastReloadAt,
                ["last_reload_applied"] = _reloader.LastResult?.Applied,
            },
            ["listeners"] = new JsonArray([.. _listeners().Select(url => (JsonNode)url)]),
            ["certificates"] = Certificates(config.Tls),
            ["requests"] = _runtime.RequestCount,
            ["routes"] = new JsonArray([.. snapshot.Routes.Routes.Select(route => (JsonNode)new JsonObject
            {
                ["name"] = route.Name,
                ["host"] = route.Host,
                ["path"] = route.Path,
                ["match"] = route.PathKind == PathMatchKind.Exact ? "exact" : "prefix",
                ["upstream"] = route.Upstream?.Name,
            })]),
            ["upstreams"] = Upstreams(snapshot, _runtime.TimeProvider.GetTimestamp()),
        };
    }

    private JsonArray Certificates(TlsSettings tls) =>
    [
        .. tls.Certificates.Select(certificate => (JsonNode)new JsonObject
        {
            ["names"] = new JsonArray([.. certificate.Names.Select(name => (JsonNode)name)]),
            ["file"] = certificate.CertPath,
            ["not_after"] = certificate.NotAfter,
            ["expires_in_days"] = Math.Round((certificate.NotAfter - _runtime.TimeProvider.GetUtcNow()).TotalDays, 1),
            ["sha256"] = certificate.Leaf.GetCertHashString(HashAlgorithmName.SHA256),
        }),
    ];

    private static JsonArray Upstreams(GatewaySnapshot snapshot, long now) =>
    [
        .. snapshot.Upstreams.Values.Select(upstream => (JsonNode)new JsonObject
        {
            ["name"] = upstream.Name,
            ["balance"] = upstream.Balance.AlgorithmName,
            ["panic"] = upstream.Panic,
            ["circuit"] = upstream.Breaker is { } breaker ? StateName(breaker.State) : null,
            ["destinations"] = Destinations(upstream.Targets, now),
        }),
    ];

    private static JsonArray Destinations(UpstreamTargets targets, long now) =>
    [
        .. targets.Destinations.Select((destination, i) => (JsonNode)new JsonObject
        {
            ["address"] = destination.Address,
            ["weight"] = targets.Weights[i],
            ["health"] = destination.HealthAt(now).ToString().ToLowerInvariant(),
            ["in_flight"] = destination.InFlight,
            ["latency_ms"] = Math.Round(destination.LatencyAt(now) / 1000, 3),
            ["active_connections"] = destination.Pool.ActiveCount,
            ["idle_connections"] = destination.Pool.IdleCount,
        }),
    ];

    private JsonObject RunningConfig()
    {
        GatewayConfig config = _runtime.Snapshot.Config;
        return new JsonObject
        {
            ["path"] = config.SourcePath,
            ["version"] = config.Version,
            ["config"] = config.Source is null ? null : ConfigRedactor.ToJson(config.Source),
        };
    }

    private async Task Reload(HttpContext context)
    {
        ReloadResult result = await _reloader.ReloadAsync("admin API");
        await WriteJson(context, result.Applied ? 200 : 422, new JsonObject
        {
            ["applied"] = result.Applied,
            ["version"] = result.Version,
            ["notes"] = new JsonArray([.. result.Notes.Select(n => (JsonNode)n)]),
            ["errors"] = new JsonArray([.. result.Errors.Select(e => (JsonNode)new JsonObject
            {
                ["location"] = e.Location.ToString(),
                ["message"] = e.Message,
                ["hint"] = e.Hint,
            })]),
        });
    }

    /// <summary><c>GET /explain?method=GET&amp;host=api.example.com&amp;path=/users/7&amp;header=Name:value</c></summary>
    /// <summary>
    /// POST /cache/purge?url=… | ?prefix=… | ?tag=…: removes what matches and says how many responses went; with a
    /// fleet tier, also from Redis (how many objects went there) and, through it, from every other instance.
    /// </summary>
    private async Task PurgeCache(HttpContext context)
    {
        CacheStore? store = _runtime.Caches.Current;
        if (store is null)
        {
            await WriteJson(context, 404, new JsonObject { ["error"] = "no route caches responses", ["hint"] = "add cache = true to a route" });
            return;
        }

        FleetTier? fleet = _runtime.Caches.CurrentFleet;
        IQueryCollection query = context.Request.Query;
        int purged;
        Task<long> fleetPurged = Task.FromResult(0L);
        if (query["url"].FirstOrDefault() is { } url)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? parsed) || parsed.Scheme is not ("http" or "https"))
            {
                await WriteJson(context, 400, new JsonObject { ["error"] = $"\"{url}\" is not an http or https URL", ["hint"] = "write url=https://api.example.com/items/1" });
                return;
            }

            HashSet<byte[]> keys = CachePurge.KeysOf(_runtime.Snapshot.Routes.Routes.Select(r => r.Cache).OfType<RouteCache>(), parsed);
            purged = keys.Sum(key => store.Remove(key));
            fleetPurged = fleet?.RemoveAsync(keys) ?? fleetPurged;
        }
        else if (query["prefix"].FirstOrDefault() is { Length: > 0 } prefix)
        {
            purged = CachePurge.ByPrefix(store, prefix);
            fleetPurged = fleet?.RemovePrefixAsync(prefix) ?? fleetPurged;
        }
        else if (query["tag"].FirstOrDefault() is { Length: > 0 } tag)
        {
            purged = CachePurge.ByTag(store, tag);
            fleetPurged = fleet?.RemoveTagAsync(tag) ?? fleetPurged;
        }
        else
        {
            await WriteJson(context, 400, new JsonObject { ["error"] = "say what to purge", ["hint"] = "give url=…, prefix=… (a URL or a path) or tag=…" });
            return;
        }

        var answer = new JsonObject { ["purged"] = purged };
        if (fleet is not null)
        {
            answer["fleet_purged"] = await fleetPurged;
        }

        await WriteJson(context, 200, answer);
    }

    private Task Explain(HttpContext context)
    {
        IQueryCollection query = context.Request.Query;
        string method = query["method"].FirstOrDefault() ?? "GET";
        string host = query["host"].FirstOrDefault() ?? "localhost";
        string path = query["path"].FirstOrDefault() ?? "/";
        if (!RouteExplainer.TryMakeUrl(path, host, out Uri? url))
        {
            return WriteJson(context, 400, new JsonObject { ["error"] = "host and path do not form a URL" });
        }

        List<KeyValuePair<string, string>> headers = RouteExplainer.ParseHeaders(query["header"].OfType<string>());
        Explanation explanation = RouteExplainer.Explain(_runtime.Snapshot, method, url, headers);
        return WriteJson(context, 200, new JsonObject
        {
            ["request"] = explanation.Request,
            ["tls"] = explanation.Tls,
            ["outcome"] = explanation.Outcome,
            ["route"] = explanation.Route,
            ["considered"] = new JsonArray([.. explanation.Considered.Select(c => (JsonNode)c)]),
            ["steps"] = new JsonArray([.. explanation.Steps.Select(s => (JsonNode)s)]),
            ["text"] = explanation.ToString(),
        });
    }

    private JsonObject DashboardData()
    {
        GatewaySnapshot snapshot = _runtime.Snapshot;
        JsonArray measured = _dashboard.CollectRoutes();
        var seen = measured.Select(r => (string)r!["name"]!).ToHashSet(StringComparer.Ordinal);

        // Every configured route is listed, with or without traffic yet.
        foreach (Route route in snapshot.Routes.Routes.Where(r => !seen.Contains(r.Name)))
        {
            measured.Add((JsonNode)new JsonObject
            {
                ["name"] = route.Name,
                ["requests"] = 0,
                ["errors"] = 0,
                ["buckets"] = new JsonArray([.. new long[GatewayMetrics.DurationBuckets.Length + 1].Select(c => (JsonNode)c)]),
            });
        }

        // A caching route's share of requests answered from the store, since the store began.
        foreach (JsonNode? measuredRoute in measured)
        {
            if (snapshot.Routes.Routes.FirstOrDefault(r => r.Name == (string)measuredRoute!["name"]!) is { Cache.Counters: var counters })
            {
                long lookups = counters.Hits + counters.Misses;
                measuredRoute!["cache_hit_ratio"] = lookups == 0 ? null : Math.Round((double)counters.Hits / lookups, 4);
            }
        }

        return new JsonObject
        {
            ["time"] = _runtime.TimeProvider.GetUtcNow(),
            ["config_version"] = snapshot.Config.Version,
            ["bounds"] = new JsonArray([.. GatewayMetrics.DurationBuckets.Select(b => (JsonNode)b)]),
            ["routes"] = measured,
            ["upstreams"] = Upstreams(snapshot, _runtime.TimeProvider.GetTimestamp()),
            ["rate_limits"] = new JsonArray([.. snapshot.RateLimits.Values.Select(policy => (JsonNode)new JsonObject
            {
                ["name"] = policy.Name,
                ["allowed"] = policy.Counters.Allowed,
                ["limited"] = policy.Counters.Limited,
                ["unavailable"] = policy.Counters.Unavailable,
            })]),
            ["circuits"] = new JsonArray([.. snapshot.Upstreams.Values
                .Where(u => u.Breaker is { State: not CircuitState.Closed })
                .Select(u => (JsonNode)new JsonObject { ["name"] = u.Name, ["state"] = StateName(u.Breaker!.State) })]),
            ["certificates"] = Certificates(snapshot.Config.Tls),
        };
    }

    private static string StateName(CircuitState state) => state switch
    {
        CircuitState.HalfOpen => "half_open",
        _ => state.ToString().ToLowerInvariant(),
    };

    private static async Task WriteJson(HttpContext context, int status, JsonObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body, Indented);
        body.WriteTo(writer);
        await writer.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
