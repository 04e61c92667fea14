using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace HyperGate.Upstreams.Discovery;

public enum DnsRecordType : ushort
{
    A = 1,
    Aaaa = 28,
    Srv = 33,
}

/// <summary>An SRV record (RFC 2782): where a service runs, with its priority and weight.</summary>
public readonly record struct SrvRecord(int Priority, int Weight, int Port, string Target, TimeSpan Ttl);

/// <summary>What a DNS answer holds for us: its response code, addresses and services, each with its TTL.</summary>
public sealed record DnsAnswer(int ResponseCode, IReadOnlyList<(IPAddress Address, TimeSpan Ttl)> Addresses, IReadOnlyList<SrvRecord> Services)
{
    public const int NameError = 3;
}

/// <summary>
/// The few parts of the DNS wire format (RFC 1035 §4) that discovery needs: a recursive query for one name and
/// type, and the A, AAAA and SRV records of the answer, following name compression. Written here rather than
/// taken from a package because the platform's resolver does not expose TTLs, and nothing more is needed.
/// </summary>
public static class DnsMessage
{
    private const int HeaderLength = 12;

    /// <summary>A query with recursion desired.</summary>
    public static byte[] Query(ushort id, string name, DnsRecordType type)
    {
        var message = new List<byte>(HeaderLength + name.Length + 6);
        Span<byte> header = stackalloc byte[HeaderLength];
        BinaryPrimitives.WriteUInt16BigEndian(header, id);
        header[2] = 0x01; // RD
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], 1); // QDCOUNT
        message.AddRange(header.ToArray());
        foreach (string label in name.TrimEnd('.').Split('.'))
        {
            byte[] bytes = Encoding.ASCII.GetBytes(label);
            if (bytes.Length is 0 or > 63)
            {
                throw new ArgumentException($"\"{name}\" is not a valid DNS name", nameof(name));
            }

            message.Add((byte)bytes.Length);
            message.AddRange(bytes);
        }

        message.Add(0);
        message.AddRange([(byte)((ushort)type >> 8), (byte)type, 0, 1]); // QTYPE, QCLASS IN
        return [.. message];
    }

    /// <summary>Reads the answer to query <paramref name="id"/>; false when the message is malformed or answers another query.</summary>
    public static bool TryParse(ReadOnlySpan<byte> message, ushort id, out DnsAnswer? answer)
    {
        answer = null;
        if (message.Length < HeaderLength || BinaryPrimitives.ReadUInt16BigEndian(message) != id || (message[2] & 0x80) == 0)
        {
            return false;
        }

        int responseCode = message[3] & 0x0F;
        int questions = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int answers = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        int offset = HeaderLength;
        for (int i = 0; i < questions; i++)
        {
            if (!TrySkipName(message, ref offset) || (offset += 4) > message.Length)
            {
                return false;
            }
        }

        var addresses = new List<(IPAddress, TimeSpan)>();
        var services = new List<SrvRecord>();
        for (int i = 0; i < answers; i++)
        {
            if (!TrySkipName(message, ref offset) || offset + 10 > message.Length)
            {
                return false;
            }

            var type = (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            TimeSpan ttl = TimeSpan.FromSeconds(BinaryPrimitives.ReadUInt32BigEndian(message[(offset + 4)..]) & 0x7FFFFFFF);
            int length = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 8)..]);
            int data = offset + 10;
            offset = data + length;
            if (offset > message.Length)
            {
                return false;
            }

            switch (type)
            {
                case DnsRecordType.A when length == 4:
                case DnsRecordType.Aaaa when length == 16:
                    addresses.Add((new IPAddress(message.Slice(data, length)), ttl));
                    break;
                case DnsRecordType.Srv when length > 6:
                    int target = data + 6;
                    if (!TryReadName(message, ref target, out string name))
                    {
                        return false;
                    }

                    services.Add(new SrvRecord(
                        BinaryPrimitives.ReadUInt16BigEndian(message[data..]),
                        BinaryPrimitives.ReadUInt16BigEndian(message[(data + 2)..]),
                        BinaryPrimitives.ReadUInt16BigEndian(message[(data + 4)..]),
                        name,
                        ttl));
                    break;
            }
        }

        answer = new DnsAnswer(responseCode, addresses, services);
        return true;
    }

    private static bool TrySkipName(ReadOnlySpan<byte> message, ref int offset) => TryReadName(message, ref offset, out _);

    /// <summary>Reads a possibly compressed name; <paramref name="offset"/> ends after the name where it was written.</summary>
    private static bool TryReadName(ReadOnlySpan<byte> message, ref int offset, out string name)
    {
        var labels = new StringBuilder();
        int position = offset;
        int? end = null;
        for (int jumps = 0; jumps < 64; )
        {
            if (position >= message.Length)
            {
                break;
            }

            byte length = message[position];
            if (length == 0)
            {
                offset = end ?? position + 1;
                name = labels.ToString();
                return true;
            }

            if ((length & 0xC0) == 0xC0)
            {
                if (position + 1 >= message.Length)
                {
                    break;
                }

                end ??= position + 2;
                position = ((length & 0x3F) << 8) | message[position + 1];
                jumps++;
                continue;
            }

            if (length > 63 || position + 1 + length > message.Length)
            {
                break;
            }

            labels.Append(labels.Length == 0 ? "" : ".").Append(Encoding.ASCII.GetString(message.Slice(position + 1, length)));
            position += 1 + length;
        }

        name = string.Empty;
        return false;
    }
}
