using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using HyperGate.Hosting;
using HyperGate.Tests.Connection;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.Hosting;

/// <summary>
/// The accept loop when accepting fails (the process is out of file descriptors): it pauses, doubling the pause, and
/// goes on accepting, instead of retrying at once (which would take a core) or giving up on the address.
/// </summary>
public sealed class AcceptBackOffTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TimerWatchingTime _time = new();
    private readonly ScriptedListener _socket = new();
    private GatewayRuntime _runtime = null!;
    private DataPlaneListeners _listeners = null!;

    public async Task InitializeAsync()
    {
        _runtime = PipeConnections.Runtime(_time);
        _listeners = new DataPlaneListeners(_runtime, new ScriptedTransport(_socket), NullLoggerFactory.Instance);
        await _listeners.StartAsync<object>(null!, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        _listeners.Dispose();
        await _runtime.DisposeAsync();
    }

    [Fact]
    public async Task FailedAccepts_ArePausedFor10MsThenDoubling_AndASuccessStartsThePauseOver()
    {
        _time.ForgetTimers();
        _socket.Next.SetException(TooManyOpenFiles());
        Assert.Equal(TimeSpan.FromMilliseconds(10), await _time.NextTimerAsync().WaitAsync(Patience));
        Assert.Equal(1, _socket.Accepts);

        _time.Advance(TimeSpan.FromMilliseconds(10));
        await _socket.AcceptedAsync(2).WaitAsync(Patience);
        _time.ForgetTimers();
        _socket.Next.SetException(TooManyOpenFiles());
        Assert.Equal(TimeSpan.FromMilliseconds(20), await _time.NextTimerAsync().WaitAsync(Patience));

        _time.Advance(TimeSpan.FromMilliseconds(20));
        await _socket.AcceptedAsync(3).WaitAsync(Patience);
        _socket.Next.SetResult(ClosedConnection());
        await _socket.AcceptedAsync(4).WaitAsync(Patience);
        _time.ForgetTimers();
        _socket.Next.SetException(TooManyOpenFiles());
        Assert.Equal(TimeSpan.FromMilliseconds(10), await _time.NextTimerAsync().WaitAsync(Patience));
    }

    [Fact]
    public async Task Stop_DuringThePause_EndsTheAcceptLoopAtOnce()
    {
        _time.ForgetTimers();
        _socket.Next.SetException(TooManyOpenFiles());
        await _time.NextTimerAsync().WaitAsync(Patience);

        await _listeners.StopAsync(CancellationToken.None).WaitAsync(Patience);

        Assert.Equal(1, _socket.Accepts);
    }

    private static SocketException TooManyOpenFiles() => new((int)SocketError.TooManyOpenSockets);

    /// <summary>A connection whose client has already gone: served and ended at once.</summary>
    private static ConnectionContext ClosedConnection()
    {
        var input = new Pipe();
        input.Writer.Complete();
        return PipeConnections.Create(input, new Pipe());
    }

    /// <summary>Reports the due time of each timer created, so a test advances time only once the pause is set.</summary>
    private sealed class TimerWatchingTime : FakeTimeProvider
    {
        private readonly Channel<TimeSpan> _created = Channel.CreateUnbounded<TimeSpan>();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            ITimer timer = base.CreateTimer(callback, state, dueTime, period);
            _created.Writer.TryWrite(dueTime);
            return timer;
        }

        public Task<TimeSpan> NextTimerAsync() => _created.Reader.ReadAsync().AsTask();

        /// <summary>Drops the timers reported so far (the gateway's own clocks, the last connection's deadlines).</summary>
        public void ForgetTimers()
        {
            while (_created.Reader.TryRead(out _))
            {
            }
        }
    }

    private sealed class ScriptedTransport(ScriptedListener listener) : IConnectionListenerFactory
    {
        public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<IConnectionListener>(listener);
    }

    /// <summary>Each accept waits until the test completes <see cref="Next"/>; unbinding ends the one waiting with null.</summary>
    private sealed class ScriptedListener : IConnectionListener
    {
        private readonly Channel<TaskCompletionSource<ConnectionContext?>> _accepts = Channel.CreateUnbounded<TaskCompletionSource<ConnectionContext?>>();
        private TaskCompletionSource<ConnectionContext?> _waiting = new();
        private int _count;

        public EndPoint EndPoint { get; } = new IPEndPoint(IPAddress.Loopback, 1);

        public int Accepts => Volatile.Read(ref _count);

        /// <summary>The accept waiting now.</summary>
        public TaskCompletionSource<ConnectionContext?> Next => Volatile.Read(ref _waiting);

        public async Task AcceptedAsync(int count)
        {
            while (Accepts < count)
            {
                await _accepts.Reader.ReadAsync();
            }
        }

        public ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            var accept = new TaskCompletionSource<ConnectionContext?>(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _waiting, accept);
            Interlocked.Increment(ref _count);
            _accepts.Writer.TryWrite(accept);
            return new ValueTask<ConnectionContext?>(accept.Task);
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            Next.TrySetResult(null);
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => UnbindAsync();
    }
}
