using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using HyperGate.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Transport;

/// <summary>Upstream connections on Kestrel's socket transport, where the event loop is not supported.</summary>
public sealed class SocketsUpstreamConnector : IUpstreamConnector
{
    private readonly SocketConnectionContextFactory _factory;

    public SocketsUpstreamConnector()
    {
        // Upstream replies follow our writes closely, so reading straight into a buffer saves the
        // zero-byte read Kestrel otherwise issues to wait for data.
        var options = new SocketConnectionFactoryOptions { WaitForDataBeforeAllocatingBuffer = false };
        UseRetainingPool(options);
        _factory = new SocketConnectionContextFactory(options, NullLogger.Instance);
    }

    public async ValueTask<ConnectionContext> ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        Socket socket = endPoint is IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.NoDelay = true;
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return _factory.Create(socket);
    }

    /// <summary>
    /// The upstream sockets get the same non-evicting block pool as the listeners (see <see cref="RetainingBlockPool"/>).
    /// Kestrel exposes the pool factory of client connections only internally, so it is set by name; if a later
    /// Kestrel renames it, upstream connections simply keep Kestrel's default pool.
    /// </summary>
    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicProperties | DynamicallyAccessedMemberTypes.PublicProperties, typeof(SocketConnectionFactoryOptions))]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "The DynamicDependency keeps the property for trimmed and native builds; a missing property is handled.")]
    private static void UseRetainingPool(SocketConnectionFactoryOptions options) =>
        options.GetType()
            .GetProperty("MemoryPoolFactory", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)?
            .SetValue(options, new RetainingBlockPoolFactory());
}
