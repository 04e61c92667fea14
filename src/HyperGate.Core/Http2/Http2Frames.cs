using System.Buffers;
using System.Buffers.Binary;

namespace HyperGate.Http2;

/// <summary>RFC 9113 §6: frame types.</summary>
internal enum FrameType : byte
{
    Data = 0x0,
    Headers = 0x1,
    Priority = 0x2,
    RstStream = 0x3,
    Settings = 0x4,
    PushPromise = 0x5,
    Ping = 0x6,
    GoAway = 0x7,
    WindowUpdate = 0x8,
    Continuation = 0x9,
}

/// <summary>RFC 9113 §6: frame flags (each meaningful on some frame types only).</summary>
[Flags]
internal enum FrameFlags : byte
{
    None = 0,

    /// <summary>END_STREAM on DATA and HEADERS; ACK on SETTINGS and PING.</summary>
    EndStreamOrAck = 0x1,
    EndHeaders = 0x4,
    Padded = 0x8,
    Priority = 0x20,
}

/// <summary>RFC 9113 §7: error codes of RST_STREAM and GOAWAY.</summary>
public enum Http2ErrorCode : uint
{
    NoError = 0x0,
    ProtocolError = 0x1,
    InternalError = 0x2,
    FlowControlError = 0x3,
    SettingsTimeout = 0x4,
    StreamClosed = 0x5,
    FrameSizeError = 0x6,
    RefusedStream = 0x7,
    Cancel = 0x8,
    CompressionError = 0x9,
    ConnectError = 0xa,
    EnhanceYourCalm = 0xb,
    InadequateSecurity = 0xc,
    Http11Required = 0xd,
}

/// <summary>RFC 9113 §6.5.2: setting identifiers.</summary>
internal enum SettingId : ushort
{
    HeaderTableSize = 0x1,
    EnablePush = 0x2,
    MaxConcurrentStreams = 0x3,
    InitialWindowSize = 0x4,
    MaxFrameSize = 0x5,
    MaxHeaderListSize = 0x6,
}

/// <summary>A frame's 9-byte header (RFC 9113 §4.1).</summary>
internal readonly record struct FrameHeader(int Length, FrameType Type, FrameFlags Flags, int StreamId)
{
    public const int Size = 9;

    /// <summary>§6.5.2: the frame size every endpoint accepts, and the most one may announce.</summary>
    public const int DefaultMaxFrameSize = 16_384;
    public const int MaxAllowedFrameSize = 16_777_215;

    /// <summary>§6.9.1: the largest window.</summary>
    public const int MaxWindowSize = int.MaxValue;

    /// <summary>§6.9.2: every window starts here until SETTINGS says otherwise.</summary>
    public const int DefaultWindowSize = 65_535;

    public bool Has(FrameFlags flag) => (Flags & flag) != 0;

    /// <summary>Reads a frame header from the first 9 bytes of <paramref name="buffer"/> (the reserved bit ignored, §4.1).</summary>
    public static FrameHeader Read(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> bytes = stackalloc byte[Size];
        buffer.Slice(0, Size).CopyTo(bytes);
        return Read(bytes);
    }

    public static FrameHeader Read(ReadOnlySpan<byte> bytes) => new(
        bytes[0] << 16 | bytes[1] << 8 | bytes[2],
        (FrameType)bytes[3],
        (FrameFlags)bytes[4],
        (int)(BinaryPrimitives.ReadUInt32BigEndian(bytes[5..]) & 0x7FFF_FFFF));

    public void Write(Span<byte> destination)
    {
        destination[0] = (byte)(Length >> 16);
        destination[1] = (byte)(Length >> 8);
        destination[2] = (byte)Length;
        destination[3] = (byte)Type;
        destination[4] = (byte)Flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination[5..], (uint)StreamId);
    }
}

/// <summary>Writes whole frames into a buffer writer.</summary>
internal static class FrameWriter
{
    /// <summary>§3.4: what every client connection starts with.</summary>
    public static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public const int PrefaceLength = 24;

    public static void WriteSettings(IBufferWriter<byte> output, ReadOnlySpan<(SettingId Id, uint Value)> settings)
    {
        Span<byte> frame = output.GetSpan(FrameHeader.Size + settings.Length * 6);
        new FrameHeader(settings.Length * 6, FrameType.Settings, FrameFlags.None, 0).Write(frame);
        for (int i = 0; i < settings.Length; i++)
        {
            Span<byte> setting = frame.Slice(FrameHeader.Size + i * 6, 6);
            BinaryPrimitives.WriteUInt16BigEndian(setting, (ushort)settings[i].Id);
            BinaryPrimitives.WriteUInt32BigEndian(setting[2..], settings[i].Value);
        }

        output.Advance(FrameHeader.Size + settings.Length * 6);
    }

    public static void WriteSettingsAck(IBufferWriter<byte> output)
    {
        new FrameHeader(0, FrameType.Settings, FrameFlags.EndStreamOrAck, 0).Write(output.GetSpan(FrameHeader.Size));
        output.Advance(FrameHeader.Size);
    }

    public static void WritePing(IBufferWriter<byte> output, ReadOnlySpan<byte> opaque, bool ack)
    {
        Span<byte> frame = output.GetSpan(FrameHeader.Size + 8);
        new FrameHeader(8, FrameType.Ping, ack ? FrameFlags.EndStreamOrAck : FrameFlags.None, 0).Write(frame);
        opaque.CopyTo(frame[FrameHeader.Size..]);
        output.Advance(FrameHeader.Size + 8);
    }

    public static void WriteWindowUpdate(IBufferWriter<byte> output, int streamId, int increment)
    {
        Span<byte> frame = output.GetSpan(FrameHeader.Size + 4);
        new FrameHeader(4, FrameType.WindowUpdate, FrameFlags.None, streamId).Write(frame);
        BinaryPrimitives.WriteUInt32BigEndian(frame[FrameHeader.Size..], (uint)increment);
        output.Advance(FrameHeader.Size + 4);
    }

    public static void WriteRstStream(IBufferWriter<byte> output, int streamId, Http2ErrorCode error)
    {
        Span<byte> frame = output.GetSpan(FrameHeader.Size + 4);
        new FrameHeader(4, FrameType.RstStream, FrameFlags.None, streamId).Write(frame);
        BinaryPrimitives.WriteUInt32BigEndian(frame[FrameHeader.Size..], (uint)error);
        output.Advance(FrameHeader.Size + 4);
    }

    public static void WriteGoAway(IBufferWriter<byte> output, int lastStreamId, Http2ErrorCode error)
    {
        Span<byte> frame = output.GetSpan(FrameHeader.Size + 8);
        new FrameHeader(8, FrameType.GoAway, FrameFlags.None, 0).Write(frame);
        BinaryPrimitives.WriteUInt32BigEndian(frame[FrameHeader.Size..], (uint)lastStreamId);
        BinaryPrimitives.WriteUInt32BigEndian(frame[(FrameHeader.Size + 4)..], (uint)error);
        output.Advance(FrameHeader.Size + 8);
    }

    /// <summary>A DATA frame's header; its payload follows.</summary>
    public static void WriteDataHeader(IBufferWriter<byte> output, int streamId, int length, bool endStream)
    {
        new FrameHeader(length, FrameType.Data, endStream ? FrameFlags.EndStreamOrAck : FrameFlags.None, streamId).Write(output.GetSpan(FrameHeader.Size));
        output.Advance(FrameHeader.Size);
    }
}
