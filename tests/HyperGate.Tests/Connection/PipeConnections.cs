using System.IO.Pipelines;
using HyperGate.Configuration;
using HyperGate.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Tests.Connection;

/// <summary>What tests of the connection machinery (accepting, serving, ending) need without sockets.</summary>
internal static class PipeConnections
{
    /// <summary>A runtime with one route to an upstream nobody listens on: these tests never forward.</summary>
    public static GatewayRuntime Runtime(TimeProvider time)
    {
        GatewayConfig config = ConfigLoader.Parse("""
            [server]
            listen = ["127.0.0.1:0"]
            [upstreams.backend]
            targets = ["127.0.0.1:9"]
            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            """, "connections.toml");
        return GatewayRuntime.Create(config, time, NullLoggerFactory.Instance);
    }

    /// <summary>A connection over two pipes: the test writes the client's bytes to <paramref name="input"/>.</summary>
    public static ConnectionContext Create(Pipe input, Pipe output) =>
        new DefaultConnectionContext("pipes", new DuplexPipe(input.Reader, output.Writer), new DuplexPipe(output.Reader, input.Writer));

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
