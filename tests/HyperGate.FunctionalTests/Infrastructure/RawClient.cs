using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>A raw socket client for sending exactly the bytes a test needs, malformed ones included.</summary>
public sealed class RawClient : IDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(15);
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly List<byte> _pending = [];

    private RawClient(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    /// <param name="from">The local address to connect from (any 127.x.y.z is loopback), or the system's choice.</param>
    public static RawClient Connect(IPEndPoint endPoint, IPAddress? from = null)
    {
        var client = from is null ? new TcpClient() : new TcpClient(new IPEndPoint(from, 0));
        client.Connect(endPoint);
        client.NoDelay = true;
        return new RawClient(client);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    /// <summary>Half-closes: the gateway reads the end of the stream, and this client can still read what it answers.</summary>
    public void EndSending() => _client.Client.Shutdown(SocketShutdown.Send);

    public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    /// <summary>Reads one response: head, then a body framed by Content-Length, chunked, or (when asked) by close.</summary>
    public async Task<RawResponse> ReadResponseAsync(bool headRequest = false)
    {
        string head = await ReadHeadAsync();
        var response = new RawResponse(head);
        if (headRequest || response.Status is 204 or 304 || response.Status < 200)
        {
            return response;
        }

        if (response.Header("Content-Length") is { } length)
        {
            response.Body = Encoding.Latin1.GetString(await ReadExactAsync(int.Parse(length)));
        }
        else if (response.Header("Transfer-Encoding") == "chunked")
        {
            response.Body = await ReadChunkedAsync();
        }
        else
        {
            response.Body = Encoding.Latin1.GetString(await ReadToEndAsync());
        }

        return response;
    }

    public async Task<string> ReadHeadAsync()
    {
        while (true)
        {
            for (int i = 3; i < _pending.Count; i++)
            {
                if (_pending[i - 3] == '\r' && _pending[i - 2] == '\n' && _pending[i - 1] == '\r' && _pending[i] == '\n')
                {
                    string head = Encoding.Latin1.GetString(_pending.GetRange(0, i + 1).ToArray());
                    _pending.RemoveRange(0, i + 1);
                    return head;
                }
            }

            if (!await FillAsync())
            {
                throw new IOException($"connection closed before a complete response head; received: {Encoding.Latin1.GetString(_pending.ToArray())}");
            }
        }
    }

    /// <summary>True when the server closed the connection (after any bytes still buffered).</summary>
    public async Task<bool> IsClosedAsync()
    {
        if (_pending.Count > 0)
        {
            return false;
        }

        try
        {
            return !await FillAsync();
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>Returns whatever is buffered, or waits for the next bytes.</summary>
    public async Task<byte[]> ReadSomeAsync()
    {
        if (_pending.Count == 0 && !await FillAsync())
        {
            throw new IOException("connection closed");
        }

        byte[] some = [.. _pending];
        _pending.Clear();
        return some;
    }

    public async Task<byte[]> ReadToEndAsync()
    {
        while (await FillAsync())
        {
        }

        byte[] all = [.. _pending];
        _pending.Clear();
        return all;
    }

    private async Task<byte[]> ReadExactAsync(int count)
    {
        while (_pending.Count < count)
        {
            if (!await FillAsync())
            {
                throw new IOException($"connection closed after {_pending.Count} of {count} body bytes");
            }
        }

        byte[] result = _pending.GetRange(0, count).ToArray();
        _pending.RemoveRange(0, count);
        return result;
    }

    private async Task<string> ReadLineAsync()
    {
        while (true)
        {
            int lf = _pending.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                string line = Encoding.Latin1.GetString(_pending.GetRange(0, lf + 1).ToArray());
                _pending.RemoveRange(0, lf + 1);
                return line;
            }

            if (!await FillAsync())
            {
                throw new IOException("connection closed inside a chunked body");
            }
        }
    }

    private async Task<string> ReadChunkedAsync()
    {
        var body = new StringBuilder();
        while (true)
        {
            string sizeLine = await ReadLineAsync();
            int size = Convert.ToInt32(sizeLine.TrimEnd('\r', '\n').Split(';')[0], 16);
            if (size == 0)
            {
                while ((await ReadLineAsync()) != "\r\n")
                {
                }

                return body.ToString();
            }

            body.Append(Encoding.Latin1.GetString(await ReadExactAsync(size)));
            await ReadExactAsync(2);
        }
    }

    private async Task<bool> FillAsync()
    {
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(ReadTimeout);
        int read = await _stream.ReadAsync(buffer, timeout.Token);
        _pending.AddRange(buffer.AsSpan(0, read).ToArray());
        return read > 0;
    }

    public void Dispose() => _client.Dispose();
}

public sealed class RawResponse
{
    public RawResponse(string head)
    {
        Head = head;
        string[] statusLine = head.Split("\r\n")[0].Split(' ', 3);
        Status = int.Parse(statusLine[1]);
    }

    public string Head { get; }

    public int Status { get; }

    public string Body { get; set; } = string.Empty;

    public string? Header(string name) => Head.Split("\r\n").Skip(1)
        .Where(line => line.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
        .Select(line => line[(name.Length + 1)..].Trim())
        .FirstOrDefault();
}
