using System.Net;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Transport;

/// <summary>Opens the gateway's connections to upstream destinations.</summary>
public interface IUpstreamConnector
{
    /// <summary>
    /// A connected socket with its pipes. Throws <see cref="System.Net.Sockets.SocketException"/> when the connect
    /// fails and <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires first.
    /// </summary>
    ValueTask<ConnectionContext> ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken);
}
