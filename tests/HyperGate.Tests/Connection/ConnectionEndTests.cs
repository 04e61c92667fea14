using System.IO.Pipelines;
using System.Text;
using HyperGate.Connection;
using HyperGate.Hosting;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Tests.Connection;

/// <summary>How a client connection's end decides whether its state may serve the next connection.</summary>
public sealed class ConnectionEndTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly Pipe _input = new();
    private readonly Pipe _output = new();
    private GatewayRuntime _runtime = null!;
    private GatewayConnectionHandler _handler = null!;

    public Task InitializeAsync()
    {
        _runtime = PipeConnections.Runtime(TimeProvider.System);
        _handler = new GatewayConnectionHandler(_runtime);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _runtime.DisposeAsync();

    [Fact]
    public async Task AResetBetweenRequests_EndsCleanly_AndTheStateIsKept()
    {
        ValueTask<bool> serving = _handler.ServeAsync(Connection(), CancellationToken.None);

        await _input.Writer.CompleteAsync(new ConnectionResetException("reset by peer"));
        bool clean = await serving.AsTask().WaitAsync(Patience);

        Assert.True(clean);
        Assert.Equal(1, _handler.IdleStates);
    }

    [Fact]
    public async Task AResetHalfwayThroughAHead_AlsoEndsCleanly()
    {
        ValueTask<bool> serving = _handler.ServeAsync(Connection(), CancellationToken.None);

        await _input.Writer.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHo"));
        await _input.Writer.CompleteAsync(new ConnectionResetException("reset by peer"));
        bool clean = await serving.AsTask().WaitAsync(Patience);

        Assert.True(clean);
        Assert.Equal(1, _handler.IdleStates);
    }

    private ConnectionContext Connection() => PipeConnections.Create(_input, _output);
}
