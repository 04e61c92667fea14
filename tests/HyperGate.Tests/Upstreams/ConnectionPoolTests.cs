using System.Net;
using System.IO.Pipelines;
using System.Net.Sockets;
using HyperGate.Http1;
using HyperGate.Upstreams;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.Upstreams;

public sealed class ConnectionPoolTests : IAsyncLifetime
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly FakeTimeProvider _time = new();
    private readonly List<Socket> _accepted = [];
    private UpstreamConnectionManager _manager = null!;
    private ConnectionPool _pool = null!;

    public Task InitializeAsync()
    {
        _listener.Start();
        _manager = new UpstreamConnectionManager(_time);
        var endPoint = (IPEndPoint)_listener.LocalEndpoint;
        _pool = _manager.GetOrCreatePool(endPoint.ToString(), endPoint, UpstreamSettings.Default with { MaxIdleConnections = 2, IdleTimeout = TimeSpan.FromSeconds(30) });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _manager.DisposeAsync();
        _accepted.ForEach(s => s.Dispose());
        _listener.Stop();
    }

    private async Task<UpstreamConnection> RentAsync()
    {
        UpstreamConnection connection = await _pool.RentAsync(CancellationToken.None);
        while (_listener.Pending())
        {
            _accepted.Add(await _listener.AcceptSocketAsync());
        }

        return connection;
    }

    [Fact]
    public async Task Return_Reusable_IsRentedAgain()
    {
        UpstreamConnection first = await RentAsync();
        _pool.Return(first, reusable: true);
        Assert.Equal((1, 0), (_pool.IdleCount, _pool.ActiveCount));

        UpstreamConnection second = await RentAsync();
        Assert.Same(first, second);
        Assert.Equal(1, second.CompletedExchanges);
        Assert.Equal((0, 1), (_pool.IdleCount, _pool.ActiveCount));
    }

    [Fact]
    public async Task Return_NotReusable_IsClosed()
    {
        UpstreamConnection first = await RentAsync();
        _pool.Return(first, reusable: false);
        Assert.Equal((0, 0), (_pool.IdleCount, _pool.ActiveCount));

        // Closed in the background: the upstream sees the end of the stream.
        int read = await Assert.Single(_accepted).ReceiveAsync(new byte[16], SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, read);
        Assert.NotSame(first, await RentAsync());
    }

    [Fact]
    public async Task AClosedConnectionsState_ServesTheNextConnectionOnly_WithTheOldTimeoutDisarmed()
    {
        UpstreamConnection first = await RentAsync();
        first.ArmTimeout(TimeSpan.FromSeconds(5));
        ResponseHead head = first.ResponseHead;
        _pool.Return(first, reusable: false);
        await first.DisposeAsync();

        UpstreamConnection second = await RentAsync();
        ValueTask<ReadResult> read = second.Input.ReadAsync();
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(read.IsCompleted);
        second.ArmTimeout(TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(1));
        ReadResult result = await read.AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        UpstreamConnection third = await RentAsync();

        Assert.NotSame(first, second);
        Assert.Same(head, second.ResponseHead);
        Assert.True(result.IsCanceled);
        Assert.True(second.TimedOut);
        Assert.NotSame(head, third.ResponseHead);
    }

    [Fact]
    public async Task Return_BeyondMaxIdle_ClosesTheExtraConnections()
    {
        UpstreamConnection[] connections = [await RentAsync(), await RentAsync(), await RentAsync()];
        foreach (UpstreamConnection connection in connections)
        {
            _pool.Return(connection, reusable: true);
        }

        Assert.Equal(2, _pool.IdleCount);
    }

    [Fact]
    public async Task IdleConnection_PastIdleTimeout_IsNotReused()
    {
        UpstreamConnection first = await RentAsync();
        _pool.Return(first, reusable: true);

        _time.Advance(TimeSpan.FromSeconds(31));

        Assert.False(_pool.TryRentIdle(out _));
        Assert.Equal(0, _pool.IdleCount);
    }

    [Fact]
    public async Task EvictionTimer_ClosesExpiredIdleConnections_KeepsFreshOnes()
    {
        UpstreamConnection old = await RentAsync();
        UpstreamConnection fresh = await RentAsync();
        _pool.Return(old, reusable: true);
        _time.Advance(TimeSpan.FromSeconds(20));
        _pool.Return(fresh, reusable: true);

        // The manager's timer runs every second; 15 more seconds expire only the older connection.
        _time.Advance(TimeSpan.FromSeconds(15));

        Assert.Equal(1, _pool.IdleCount);
        Assert.True(_pool.TryRentIdle(out UpstreamConnection? survivor));
        Assert.Same(fresh, survivor);
    }

    [Fact]
    public async Task IdleConnection_ClosedByPeer_IsDetectedOnRent()
    {
        UpstreamConnection first = await RentAsync();
        _pool.Return(first, reusable: true);

        Socket serverSide = Assert.Single(_accepted);
        serverSide.Shutdown(SocketShutdown.Both);
        serverSide.Close();

        // Kestrel's transport keeps reading in the background: wait for it to see the FIN (a real event).
        ReadResult read = await first.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        first.Input.AdvanceTo(read.Buffer.Start);
        Assert.True(read.IsCompleted);

        Assert.False(_pool.TryRentIdle(out _));
    }
}
