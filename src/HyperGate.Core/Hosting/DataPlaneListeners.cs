using System.Net;
using HyperGate.Configuration;
using HyperGate.Connection;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace HyperGate.Hosting;

/// <summary>
/// The data plane's listen sockets. Each address is its own Kestrel server (socket transport only; Kestrel's
/// HTTP stack is never in the request path), so a reload opens or closes one address without touching the
/// connections of the others. <c>server.max_connections</c> is counted here, across every address.
/// </summary>
public sealed class DataPlaneListeners : IServer
{
    private readonly GatewayRuntime _runtime;
    private readonly IConnectionListenerFactory _transport;
    private readonly ILoggerFactory _loggers;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly GatewayConnectionHandler _handler;
    private readonly List<Task> _closing = [];
    private volatile Listener[] _listeners = [];
    private int _open;

    public DataPlaneListeners(GatewayRuntime runtime, IConnectionListenerFactory transport, ILoggerFactory loggers, IServiceProvider services)
    {
        _runtime = runtime;
        _transport = transport;
        _loggers = loggers;
        _services = services;
        _logger = loggers.CreateLogger("HyperGate");
        _handler = new GatewayConnectionHandler(runtime);
    }

    public IFeatureCollection Features { get; } = new FeatureCollection();

    /// <summary>Serves every client connection, on every address.</summary>
    internal GatewayConnectionHandler Handler => _handler;

    /// <summary>Client connections open now, across every address.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Raised as a client connection ends, with the number still open.</summary>
    public event Action<int>? ConnectionEnded;

    /// <summary>The bound addresses, in config order (with the real port where the config asked for port 0).</summary>
    public IReadOnlyList<IPEndPoint> Endpoints => [.. _listeners.Select(l => l.BoundEndPoint)];

    /// <summary>Binds every configured address; called once by the host.</summary>
    public async Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        var listeners = new List<Listener>();
        foreach (ListenAddress address in _runtime.Snapshot.Config.Server.Listen)
        {
            listeners.Add(await BindAsync(address, cancellationToken));
        }

        _listeners = [.. listeners];
    }

    /// <summary>
    /// Makes the listeners match <paramref name="addresses"/>: new addresses are bound (all or none: a bind
    /// failure closes the ones just opened and refuses the reload), then listeners whose address left the config
    /// stop accepting and their connections drain in the background within <paramref name="drainTimeout"/>.
    /// </summary>
    internal async Task ApplyAsync(IReadOnlyList<ListenAddress> addresses, TimeSpan drainTimeout)
    {
        Listener[] current = _listeners;
        var next = new List<Listener>();
        var opened = new List<Listener>();
        var errors = new List<ConfigError>();
        foreach (ListenAddress address in addresses)
        {
            Listener? kept = current.FirstOrDefault(l => l.Address.EndPoint.Equals(address.EndPoint));
            if (kept is not null)
            {
                next.Add(kept);
                continue;
            }

            try
            {
                Listener listener = await BindAsync(address, CancellationToken.None);
                opened.Add(listener);
                next.Add(listener);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                errors.Add(new ConfigError(address.Location, $"server.listen: cannot bind {address.EndPoint}: {e.Message}",
                    "free the address or choose another port; the running listeners are unchanged"));
            }
        }

        if (errors.Count > 0)
        {
            await Task.WhenAll(opened.Select(l => l.Server.StopAsync(CancellationToken.None)));
            opened.ForEach(l => l.Server.Dispose());
            throw new ConfigException(errors);
        }

        _listeners = [.. next];
        foreach (Listener listener in opened)
        {
            _logger.LogInformation("listening on http://{Endpoint} (data plane, added by reload)", listener.BoundEndPoint);
        }

        foreach (Listener removed in current.Where(l => !next.Contains(l)))
        {
            _logger.LogInformation("stopped listening on http://{Endpoint} (removed by reload); its connections drain", removed.BoundEndPoint);
            lock (_closing)
            {
                _closing.Add(CloseAsync(removed, drainTimeout));
            }
        }
    }

    /// <summary>Stops accepting everywhere; connections drain until <paramref name="cancellationToken"/> (the drain timeout) fires.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Task[] closing;
        lock (_closing)
        {
            closing = [.. _closing];
        }

        await Task.WhenAll(_listeners.Select(l => l.Server.StopAsync(cancellationToken)).Concat(closing));
    }

    public void Dispose()
    {
        foreach (Listener listener in _listeners)
        {
            listener.Server.Dispose();
        }
    }

    private async Task<Listener> BindAsync(ListenAddress address, CancellationToken cancellationToken)
    {
        var options = new KestrelServerOptions { AddServerHeader = false, ApplicationServices = _services };
        ListenOptions? bound = null;
        options.Listen(address.EndPoint, listen =>
        {
            listen.Run(AcceptAsync);
            bound = listen;
        });
        var server = new KestrelServer(Options.Create(options), _transport, _loggers);
        try
        {
            await server.StartAsync(new NoHttpApplication(), cancellationToken);
        }
        catch
        {
            server.Dispose();
            throw;
        }

        return new Listener(address, server, bound!.IPEndPoint!);
    }

    /// <summary>
    /// Past the cap a connection is closed as it arrives, before any byte is read. It gives its place back at once:
    /// its close may wait for the client, and a refused connection must not hold a slot meanwhile.
    /// </summary>
    private async Task AcceptAsync(ConnectionContext connection)
    {
        if (Interlocked.Increment(ref _open) > _runtime.Snapshot.Config.Server.MaxConnections)
        {
            Interlocked.Decrement(ref _open);
            await connection.DisposeAsync();
            return;
        }

        try
        {
            await _handler.ServeAsync(connection);
        }
        finally
        {
            // Counted apart from the event: a null-conditional call would skip its argument when no one listens.
            int open = Interlocked.Decrement(ref _open);
            ConnectionEnded?.Invoke(open);
        }
    }

    private static async Task CloseAsync(Listener listener, TimeSpan drainTimeout)
    {
        using var drain = new CancellationTokenSource(drainTimeout);
        await listener.Server.StopAsync(drain.Token);
        listener.Server.Dispose();
    }

    private sealed record Listener(ListenAddress Address, KestrelServer Server, IPEndPoint BoundEndPoint);

    /// <summary>Every listener hands its connections to the gateway's handler, so Kestrel never runs an HTTP application.</summary>
    private sealed class NoHttpApplication : IHttpApplication<object>
    {
        public object CreateContext(IFeatureCollection contextFeatures) => throw new NotSupportedException();

        public Task ProcessRequestAsync(object context) => throw new NotSupportedException();

        public void DisposeContext(object context, Exception? exception) => throw new NotSupportedException();
    }
}
