using System.Net;
using System.Net.Sockets;

namespace HyperGate.FunctionalTests.Infrastructure;

public static class TestPorts
{
    /// <summary>
    /// A loopback port that was free a moment ago, for configs that must name a port the gateway will bind. Not
    /// for a port that must stay dead: another test's server may take it. Use <see cref="Closed"/> for that.
    /// </summary>
    public static int Free()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>A loopback port held bound but not listening: connections to it are refused for as long as it lives.</summary>
    public static ClosedPort Closed() => new();
}

public sealed class ClosedPort : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public ClosedPort() => _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));

    /// <summary>"127.0.0.1:PORT".</summary>
    public string Address => _socket.LocalEndPoint!.ToString()!;

    public void Dispose() => _socket.Dispose();
}
