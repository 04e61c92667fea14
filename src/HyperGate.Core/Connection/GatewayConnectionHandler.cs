using System.Net;
using System.Runtime.CompilerServices;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace HyperGate.Connection;

/// <summary>Kestrel hands every accepted downstream connection here; from now on the bytes are ours.</summary>
public sealed class GatewayConnectionHandler(GatewayRuntime runtime)
{
    /// <summary>Serves the connection until it ends. The method's state is pooled: a new connection reuses an old one's.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ServeAsync(ConnectionContext connection)
    {
        bool isHttps = connection.Features.Get<ITlsHandshakeFeature>() is not null;
        CancellationToken closeRequested = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested
            ?? CancellationToken.None;

        using var exchange = new Exchange(connection.Transport.Input, connection.Transport.Output, (connection.RemoteEndPoint as IPEndPoint)?.Address, isHttps);
        using var downstream = new DownstreamConnection(exchange, runtime);
        using CancellationTokenRegistration registration = closeRequested.Register(static state => ((DownstreamConnection)state!).RequestClose(), downstream);
        runtime.Telemetry.Metrics.ConnectionOpened();
        try
        {
            await downstream.RunAsync();
        }
        finally
        {
            runtime.Telemetry.Metrics.ConnectionClosed();
        }
    }
}
