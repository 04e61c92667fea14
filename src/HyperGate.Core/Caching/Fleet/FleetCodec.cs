using System.Text;

namespace HyperGate.Caching.Fleet;

/// <summary>
/// A stored response as the fleet tier keeps it: one value holding the head, the body, the clock readings
/// (RFC 9111 §4.2.3: another instance computes the same age from them, with the time it spent in Redis counted as
/// resident time), and what selects the variant. Versioned, so that a newer instance's values are skipped by an older one.
/// </summary>
public static class FleetCodec
{
    private const byte Version = 1;

    public static byte[] Encode(CachedResponse response)
    {
        using var buffer = new MemoryStream(response.FieldBlock.Length + response.Body.Length + 128);
        using var writer = new BinaryWriter(buffer, Encoding.UTF8);
        writer.Write(Version);
        writer.Write((short)response.Status);
        WriteBytes(writer, response.ReasonPhrase);
        WriteBytes(writer, response.FieldBlock);
        WriteBytes(writer, response.Body);
        CacheTimes times = response.Times;
        writer.Write(times.RequestTime);
        writer.Write(times.ResponseTime);
        writer.Write(times.DateValue);
        writer.Write(times.AgeValue);
        writer.Write(response.DefaultTtl?.Ticks ?? -1);
        WriteVariant(writer, response);
        writer.Write(response.Tags.Length);
        foreach (string tag in response.Tags)
        {
            writer.Write(tag);
        }

        writer.Flush();
        return buffer.ToArray();
    }

    /// <summary>The response in <paramref name="value"/>; null when it is not one this version wrote (a newer format, or damage).</summary>
    public static CachedResponse? Decode(byte[] value)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(value), Encoding.UTF8);
            if (reader.ReadByte() != Version)
            {
                return null;
            }

            int status = reader.ReadInt16();
            byte[] reason = ReadBytes(reader);
            byte[] fields = ReadBytes(reader);
            byte[] body = ReadBytes(reader);
            var times = new CacheTimes(reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64(), 0);
            long defaultTtl = reader.ReadInt64();
            var vary = new (byte[] Name, byte[]? Value)[reader.ReadInt32()];
            for (int i = 0; i < vary.Length; i++)
            {
                vary[i] = (ReadBytes(reader), reader.ReadBoolean() ? ReadBytes(reader) : null);
            }

            string? consumer = reader.ReadBoolean() ? reader.ReadString() : null;
            var tags = new string[reader.ReadInt32()];
            for (int i = 0; i < tags.Length; i++)
            {
                tags[i] = reader.ReadString();
            }

            return new CachedResponse(status, reason, fields, body, times, defaultTtl < 0 ? null : TimeSpan.FromTicks(defaultTtl))
            {
                Vary = vary,
                Consumer = consumer,
                Tags = tags,
            };
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or ArgumentException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>What tells this variant from the key's others (its Vary values and consumer): the field it is stored under.</summary>
    public static byte[] VariantId(CachedResponse response)
    {
        using var buffer = new MemoryStream();
        using var writer = new BinaryWriter(buffer, Encoding.UTF8);
        WriteVariant(writer, response);
        writer.Flush();
        return buffer.ToArray();
    }

    private static void WriteVariant(BinaryWriter writer, CachedResponse response)
    {
        writer.Write(response.Vary.Length);
        foreach ((byte[] name, byte[]? value) in response.Vary)
        {
            WriteBytes(writer, Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(name).ToLowerInvariant()));
            writer.Write(value is not null);
            if (value is not null)
            {
                WriteBytes(writer, value);
            }
        }

        writer.Write(response.Consumer is not null);
        if (response.Consumer is not null)
        {
            writer.Write(response.Consumer);
        }
    }

    private static void WriteBytes(BinaryWriter writer, byte[] bytes)
    {
        writer.Write(bytes.Length);
        writer.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader reader)
    {
        int length = reader.ReadInt32();
        if (length < 0 || length > reader.BaseStream.Length - reader.BaseStream.Position)
        {
            throw new IOException("a length runs past the value");
        }

        return reader.ReadBytes(length);
    }
}
