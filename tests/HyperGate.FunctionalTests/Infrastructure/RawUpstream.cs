using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>
/// A scripted TCP upstream for behaviour a real server would not produce: it reads one request head per
/// exchange and answers with whatever the script returns, then optionally closes.
/// </summary>
public sealed class RawUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<string, int, RawReply> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _requests;
    private int _connections;

    /// <param name="script">Given the request head and the request's number (from 1), returns the reply.</param>
    public RawUpstream(Func<string, int, RawReply> script)
    {
        _script = script;
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    public string Address => ((IPEndPoint)_listener.LocalEndpoint).ToString();

    public int RequestCount => Volatile.Read(ref _requests);

    public int ConnectionCount => Volatile.Read(ref _connections);

    /// <summary>Every request head received, in order.</summary>
    public List<string> Heads { get; } = [];

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                _ = ServeAsync(client);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Stopping: the listener may be stopped between two accepts, which throws "not listening" rather than a cancellation.
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            NetworkStream stream = client.GetStream();
            var pending = new List<byte>();
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    int end;
                    while ((end = IndexOfHeadEnd(pending)) < 0)
                    {
                        int read = await stream.ReadAsync(buffer, _stop.Token);
                        if (read == 0)
                        {
                            return;
                        }

                        pending.AddRange(buffer.AsSpan(0, read).ToArray());
                    }

                    string head = Encoding.Latin1.GetString(pending.GetRange(0, end).ToArray());
                    pending.RemoveRange(0, end);
                    lock (Heads)
                    {
                        Heads.Add(head);
                    }

                    RawReply reply = _script(head, Interlocked.Increment(ref _requests));
                    if (reply.Bytes.Length > 0)
                    {
                        await stream.WriteAsync(reply.Bytes, _stop.Token);
                    }

                    if (reply.Later is not null)
                    {
                        await stream.WriteAsync(await reply.Later().WaitAsync(_stop.Token), _stop.Token);
                    }

                    if (reply.Hang)
                    {
                        await Task.Delay(Timeout.Infinite, _stop.Token);
                    }

                    if (reply.Close)
                    {
                        return;
                    }
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
            }
        }
    }

    private static int IndexOfHeadEnd(List<byte> bytes)
    {
        for (int i = 3; i < bytes.Count; i++)
        {
            if (bytes[i - 3] == '\r' && bytes[i - 2] == '\n' && bytes[i - 1] == '\r' && bytes[i] == '\n')
            {
                return i + 1;
            }
        }

        return -1;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _acceptLoop;
        _stop.Dispose();
    }
}

/// <summary>What a <see cref="RawUpstream"/> sends back: bytes, then close, hang, or stay open.</summary>
public sealed record RawReply(byte[] Bytes, bool Close = false, bool Hang = false)
{
    /// <summary>More bytes, sent once the test provides them (a body that arrives in parts).</summary>
    public Func<Task<byte[]>>? Later { get; init; }

    public static RawReply Text(string text, bool close = false) => new(Encoding.Latin1.GetBytes(text), close);
}
