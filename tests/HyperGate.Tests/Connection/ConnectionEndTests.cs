using System.IO.Pipelines;
using System.Text;
using HyperGate.Connection;
using HyperGate.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;

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
        _handler = new GatewayConnectionHandler(_runtime, NullLogger.Instance);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _runtime.DisposeAsync();

    [Fact]
    public async Task AResetBetweenRequests_EndsCleanly_AndTheStateIsKept()
    {
        var owner = new RecordingOwner();
        _handler.Serve(Connection(), owner);

        await _input.Writer.CompleteAsync(new ConnectionResetException("reset by peer"));
        await owner.Closed.Task.WaitAsync(Patience);

        Assert.Equal(1, owner.Ended);
        Assert.Equal(1, _handler.IdleStates);
    }

    [Fact]
    public async Task AResetHalfwayThroughAHead_AlsoEndsCleanly()
    {
        var owner = new RecordingOwner();
        _handler.Serve(Connection(), owner);

        await _input.Writer.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHo"));
        await _input.Writer.CompleteAsync(new ConnectionResetException("reset by peer"));
        await owner.Closed.Task.WaitAsync(Patience);

        Assert.Equal(1, _handler.IdleStates);
    }

    [Fact]
    public async Task AKeptState_ServesTheNextConnection()
    {
        var first = new RecordingOwner();
        _handler.Serve(Connection(), first);
        await _input.Writer.CompleteAsync();
        await first.Closed.Task.WaitAsync(Patience);
        Assert.Equal(1, _handler.IdleStates);

        // The second connection is served by the kept state: it answers a request (a 502: nobody listens upstream).
        var input = new Pipe();
        var output = new Pipe();
        var second = new RecordingOwner();
        _handler.Serve(PipeConnections.Create(input, output), second);
        Assert.Equal(0, _handler.IdleStates);
        await input.Writer.WriteAsync(Encoding.ASCII.GetBytes("GET /nowhere HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
        ReadResult answer = await output.Reader.ReadAtLeastAsync(12).AsTask().WaitAsync(Patience);

        Assert.StartsWith("HTTP/1.1 ", Encoding.ASCII.GetString(answer.Buffer.FirstSpan));
        await second.Closed.Task.WaitAsync(Patience);
        Assert.Equal(1, second.Ended);
        Assert.Equal(1, _handler.IdleStates);
    }

    private ConnectionContext Connection() => PipeConnections.Create(_input, _output);

    /// <summary>Counts what the handler tells the owner of a connection.</summary>
    private sealed class RecordingOwner : IConnectionOwner
    {
        public int Ended;

        public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationToken CloseRequested => CancellationToken.None;

        public CancellationToken AbortRequested => CancellationToken.None;

        public void ConnectionEnded() => Interlocked.Increment(ref Ended);

        public void ConnectionClosed() => Closed.SetResult();
    }
}
