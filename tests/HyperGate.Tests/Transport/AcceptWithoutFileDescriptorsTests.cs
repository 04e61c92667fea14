using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using HyperGate.Transport;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Tests.Transport;

/// <summary>Tests that change a limit of the whole process run alone, after every other test of the assembly.</summary>
[CollectionDefinition(nameof(ProcessWideLimits), DisableParallelization = true)]
public sealed class ProcessWideLimits;

/// <summary>
/// The event-loop listener when the process is out of file descriptors: the accept fails with the reason (the accept
/// loop above it backs off) instead of being retried at once, forever, on a core.
/// </summary>
[Collection(nameof(ProcessWideLimits))]
public sealed class AcceptWithoutFileDescriptorsTests
{
    private const int OpenFilesLimit = 7; // RLIMIT_NOFILE on x64 and arm64
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Accept_FailsWithTooManyOpenSockets_ThenAcceptsTheWaitingClientOnceDescriptorsAreFree()
    {
        EventLoopTransport transport = EventLoopTransport.Shared
            ?? throw new InvalidOperationException("the event-loop transport runs on Linux x64 and arm64");
        await using IConnectionListener listener = await transport.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await first.ConnectAsync(listener.EndPoint);
        await using (ConnectionContext warmUp = (await listener.AcceptAsync().AsTask().WaitAsync(Patience))!)
        {
        }

        using var waiting = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await waiting.ConnectAsync(listener.EndPoint);
        SocketException refused;
        using (NoNewFileDescriptors())
        {
            refused = await Assert.ThrowsAsync<SocketException>(async () => await listener.AcceptAsync().AsTask().WaitAsync(Patience));
        }

        Assert.Equal(SocketError.TooManyOpenSockets, refused.SocketErrorCode);
        await using ConnectionContext accepted = (await listener.AcceptAsync().AsTask().WaitAsync(Patience))!;
        Assert.Equal(waiting.LocalEndPoint, accepted.RemoteEndPoint);
    }

    /// <summary>Lowers the process's open-file limit to zero (descriptors already open stay open) until disposed.</summary>
    private static Restore NoNewFileDescriptors()
    {
        Check(getrlimit(OpenFilesLimit, out ResourceLimit saved));
        var none = saved with { Current = 0 };
        Check(setrlimit(OpenFilesLimit, in none));
        return new Restore(saved);
    }

    private static void Check(int result)
    {
        if (result != 0)
        {
            throw new InvalidOperationException($"rlimit call failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private sealed class Restore(ResourceLimit saved) : IDisposable
    {
        public void Dispose() => Check(setrlimit(OpenFilesLimit, in saved));
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct ResourceLimit(ulong Current, ulong Maximum);

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out ResourceLimit limit);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, in ResourceLimit limit);
}
