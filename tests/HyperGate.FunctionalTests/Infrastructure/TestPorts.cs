using System.Net;
using System.Net.Sockets;

namespace HyperGate.FunctionalTests.Infrastructure;

public static class TestPorts
{
    /// <summary>A loopback port that was free a moment ago, for configs that must name their port.</summary>
    public static int Free()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
