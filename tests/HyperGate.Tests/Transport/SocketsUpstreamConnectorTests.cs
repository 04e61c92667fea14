using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using HyperGate.Transport;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Tests.Transport;

/// <summary>The upstream connector used where the event loop is not supported (Kestrel's socket transport).</summary>
public sealed class SocketsUpstreamConnectorTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AConnection_CarriesBytesBothWays()
    {
        using var peer = new TcpListener(IPAddress.Loopback, 0);
        peer.Start();
        ConnectionContext connection = await new SocketsUpstreamConnector().ConnectAsync(peer.LocalEndpoint, CancellationToken.None);
        using Socket accepted = await peer.AcceptSocketAsync();

        await connection.Transport.Output.WriteAsync("ping"u8.ToArray());
        byte[] received = new byte[4];
        await accepted.ReceiveAsync(received).WaitAsync(Patience);
        await accepted.SendAsync("pong"u8.ToArray());
        ReadResult result = await connection.Transport.Input.ReadAtLeastAsync(4).AsTask().WaitAsync(Patience);

        Assert.Equal("ping"u8.ToArray(), received);
        Assert.Equal("pong"u8.ToArray(), result.Buffer.ToArray());
        connection.Transport.Input.AdvanceTo(result.Buffer.End);
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task Connect_ToAPortNobodyListensOn_FailsWithConnectionRefused()
    {
        using var unused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        unused.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        SocketException e = await Assert.ThrowsAsync<SocketException>(async () =>
            await new SocketsUpstreamConnector().ConnectAsync(unused.LocalEndPoint!, CancellationToken.None));

        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
    }
}
