using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>
/// A tiny authoritative DNS server on 127.0.0.1 (UDP) answering A and SRV queries from records the test sets and
/// changes; any other name gets NXDOMAIN. Its encoder is written independently of the gateway's parser.
/// </summary>
public sealed class TestDnsServer : IDisposable
{
    private readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly ConcurrentDictionary<(string Name, ushort Type), byte[][]> _records = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public TestDnsServer() => _loop = Task.Run(ServeAsync);

    public IPEndPoint EndPoint => (IPEndPoint)_socket.Client.LocalEndPoint!;

    /// <summary>The TTL of every answer, in seconds.</summary>
    public uint Ttl { get; set; } = 5;

    public void SetA(string name, params IPAddress[] addresses) => _records[(name.ToLowerInvariant(), 1)] = [.. addresses.Select(a => a.GetAddressBytes())];

    public void SetSrv(string name, params (ushort Priority, ushort Weight, ushort Port, string Target)[] services) =>
        _records[(name.ToLowerInvariant(), 33)] = [.. services.Select(s =>
        {
            var data = new List<byte>();
            foreach (ushort value in new[] { s.Priority, s.Weight, s.Port })
            {
                data.Add((byte)(value >> 8));
                data.Add((byte)value);
            }

            data.AddRange(Name(s.Target));
            return data.ToArray();
        })];

    public void Remove(string name) => _records.Keys.Where(k => k.Name == name.ToLowerInvariant()).ToList().ForEach(k => _records.TryRemove(k, out _));

    private async Task ServeAsync()
    {
        try
        {
            while (true)
            {
                UdpReceiveResult query = await _socket.ReceiveAsync(_stop.Token);
                await _socket.SendAsync(Answer(query.Buffer), query.RemoteEndPoint);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Stopping: the socket may be disposed between a query and its answer.
        }
    }

    private byte[] Answer(byte[] query)
    {
        int offset = 12;
        var labels = new List<string>();
        while (query[offset] != 0)
        {
            labels.Add(Encoding.ASCII.GetString(query, offset + 1, query[offset]));
            offset += 1 + query[offset];
        }

        int questionEnd = offset + 5;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(offset + 1));
        string name = string.Join('.', labels).ToLowerInvariant();
        bool known = _records.Keys.Any(k => k.Name == name);
        byte[][] answers = _records.TryGetValue((name, type), out byte[][]? found) ? found : [];

        var response = new List<byte>();
        response.AddRange(query.AsSpan(0, 2).ToArray());
        response.AddRange([0x81, (byte)(0x80 | (known ? 0 : 3)), 0, 1, 0, (byte)answers.Length, 0, 0, 0, 0]);
        response.AddRange(query.AsSpan(12, questionEnd - 12).ToArray());
        foreach (byte[] data in answers)
        {
            // The owner name points back at the question's (compression, as real servers do).
            response.AddRange([0xC0, 12, (byte)(type >> 8), (byte)type, 0, 1]);
            response.AddRange([(byte)(Ttl >> 24), (byte)(Ttl >> 16), (byte)(Ttl >> 8), (byte)Ttl, (byte)(data.Length >> 8), (byte)data.Length]);
            response.AddRange(data);
        }

        return [.. response];
    }

    private static byte[] Name(string name) =>
        [.. name.Split('.').SelectMany(label => new[] { (byte)label.Length }.Concat(Encoding.ASCII.GetBytes(label))), 0];

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
