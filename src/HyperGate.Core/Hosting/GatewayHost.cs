using System.Net;
using HyperGate.Admin;
using HyperGate.Buffers;
using HyperGate.Configuration;
using HyperGate.Connection;
using HyperGate.RateLimiting;
using HyperGate.Security;
using HyperGate.Transport;
using HyperGate.Upstreams;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace HyperGate.Hosting;

/// <summary>
/// Runs a gateway: <see cref="DataPlaneListeners"/> accepts connections on each listen address and hands them to
/// <see cref="GatewayConnectionHandler"/>; Kestrel's HTTP stack is never in the request path.
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly DataPlaneListeners _listeners;

    private GatewayHost(WebApplication app, GatewayRuntime runtime, DataPlaneListeners listeners, ConfigReloader reloader)
    {
        _app = app;
        Runtime = runtime;
        _listeners = listeners;
        Reloader = reloader;
    }

    public GatewayRuntime Runtime { get; }

    /// <summary>Reloads the config file (also on SIGHUP, on file change, and through the admin API).</summary>
    public ConfigReloader Reloader { get; }

    /// <summary>The admin listener, when <c>[admin]</c> configures one.</summary>
    public AdminServer? Admin { get; private set; }

    /// <summary>The bound data-plane addresses (with real ports when the config asked for port 0).</summary>
    public IReadOnlyList<IPEndPoint> Endpoints => _listeners.Endpoints;

    /// <summary>The data-plane listeners, with their connection count.</summary>
    public DataPlaneListeners Listeners => _listeners;

    public static async Task<GatewayHost> StartAsync(GatewayConfig config, GatewayHostOptions? options = null)
    {
        options ??= new GatewayHostOptions();
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        void ConfigureLogging(ILoggingBuilder logging)
        {
            logging.ClearProviders();
            if (options.ConsoleLogging)
            {
                logging.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.UseUtcTimestamp = true;
                    o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
                });
            }

            logging.AddFilter("Microsoft", LogLevel.Warning);

            // A start that fails (an address in use) is reported by the caller in one line; the host's own report of it
            // is a stack trace.
            logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        }

        ConfigureLogging(builder.Logging);
        builder.Services.AddSingleton(services =>
            GatewayRuntime.Create(config, options.TimeProvider, services.GetRequiredService<ILoggerFactory>(), options.QuotaStoreFactory, withOutputs: true));
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, RetainingBlockPoolFactory>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = config.Server.DrainTimeout);

        // The server is ours: an accept loop per address, on the event-loop transport where it is supported (Linux),
        // on Kestrel's socket transport elsewhere.
        if (EventLoopTransport.Shared is { } eventLoops)
        {
            builder.Services.AddSingleton<IConnectionListenerFactory>(eventLoops);
        }

        builder.Services.AddSingleton<DataPlaneListeners>();
        builder.Services.AddSingleton<IServer>(services => services.GetRequiredService<DataPlaneListeners>());

        WebApplication app = builder.Build();
        GatewayRuntime runtime = app.Services.GetRequiredService<GatewayRuntime>();
        runtime.Caches.Start();
        await Task.WhenAll(runtime.RateLimits.ConnectAsync(), runtime.Auth.LoadKeysAsync(), runtime.Connections.DiscoveryStartedAsync());
        await app.StartAsync();
        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("HyperGate");

        // Reload triggers (SIGHUP among them) are in place before the gateway says it is listening.
        DataPlaneListeners listeners = app.Services.GetRequiredService<DataPlaneListeners>();
        var reloader = new ConfigReloader(runtime, listeners, config.SourcePath, logger, config.Server.WatchConfig);
        var host = new GatewayHost(app, runtime, listeners, reloader);
        if (config.Admin.Listen is not null)
        {
            host.Admin = await AdminServer.StartAsync(config.Admin, runtime, reloader, () => listeners.Urls, ConfigureLogging);
            logger.LogInformation("admin API on {Address}", host.Admin.Address);
        }

        foreach (string url in listeners.Urls)
        {
            logger.LogInformation("listening on {Url} (data plane)", url);
        }

        app.Lifetime.ApplicationStopping.Register(() => logger.LogInformation(
            "stopping: no new connections; open connections: {Open}, finishing their requests within {Drain}", listeners.OpenConnections, config.Server.DrainTimeout));
        app.Lifetime.ApplicationStopped.Register(() => logger.LogInformation("stopped"));

        return host;
    }

    /// <summary>Completes when the host is asked to stop (SIGTERM, Ctrl-C, or <see cref="StopAsync"/>) and has drained.</summary>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    /// <summary>Stops accepting, lets in-flight requests finish within the drain timeout, then closes what is left.</summary>
    public Task StopAsync() => _app.StopAsync();

    /// <summary>Disposing the app disposes the runtime it owns: pools, limiters, the quota store, telemetry.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Admin is not null)
        {
            await Admin.DisposeAsync();
        }

        Reloader.Dispose();
        await _app.DisposeAsync();
    }
}

public sealed class GatewayHostOptions
{
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public bool ConsoleLogging { get; init; }

    /// <summary>Where cluster rate limits keep their shared quota; Redis from <c>[cluster]</c> by default.</summary>
    public Func<ClusterConfig, IQuotaStore>? QuotaStoreFactory { get; init; }
}
