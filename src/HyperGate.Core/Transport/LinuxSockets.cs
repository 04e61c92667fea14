using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace HyperGate.Transport;

/// <summary>
/// The few Linux calls the event loop makes: epoll, an eventfd to wake it, and the life of its non-blocking sockets
/// (socket, accept4, connect, recv, sendmsg, shutdown, close). .NET's socket engine has no way to run a socket's I/O on
/// the thread that owns it, which is the point of the event loop, so these are called directly; and a socket of its
/// own (a Socket, its handle, its endpoints: about 450 bytes per connection) would only be carried along unused.
/// </summary>
internal static unsafe partial class LinuxSockets
{
    public const int EAGAIN = 11;
    public const int EINTR = 4;
    public const int EINPROGRESS = 115;
    public const int ECONNRESET = 104;
    public const int EPIPE = 32;
    public const int ECONNABORTED = 103;
    private const int ENFILE = 23;
    private const int EMFILE = 24;

    /// <summary>Room for any address a TCP socket has here (sockaddr_in6).</summary>
    public const int MaxAddressLength = 28;

    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLET = 0x80000000;

    private const int EPOLL_CTL_ADD = 1;
    private const int EPOLL_CTL_DEL = 2;
    private const int CloseOnExec = 0x80000;
    private const int EFD_NONBLOCK = 0x800;
    private const int MSG_NOSIGNAL = 0x4000;
    private const int O_NONBLOCK = 0x800;
    private const int F_GETFL = 3;
    private const int F_SETFL = 4;
    private const int SOL_SOCKET = 1;
    private const int SO_ERROR = 4;
    private const int SOCK_STREAM = 1;
    private const int SOCK_NONBLOCK = 0x800;
    private const int IPPROTO_TCP = 6;
    private const int TCP_NODELAY = 1;
    private const int SHUT_RDWR = 2;
    private const ushort AF_INET = 2;
    private const ushort AF_INET6 = 10;

    /// <summary>
    /// recvfrom, sendto and sendmsg by number, for <see cref="syscall"/>. glibc's recv and send calls are
    /// thread-cancellation points: around every call they switch the thread's cancellation state with two atomic
    /// operations, 1.4% of the proxy's time in the profile. Nothing here cancels threads, so the same calls go through
    /// syscall(2), which is not a cancellation point.
    /// </summary>
    private static readonly nint SysRecvFrom = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 45 : 207;

    private static readonly nint SysSendTo = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 44 : 206;

    private static readonly nint SysSendMsg = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 46 : 211;

    /// <summary>epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16 bytes).</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    private static readonly int EpollDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    /// <summary>Linux on the two architectures whose epoll_event layout and errno values are known here.</summary>
    public static bool IsSupported =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    public static int CreateEpoll() => Check(epoll_create1(CloseOnExec), "epoll_create1");

    public static int CreateEventFd() => Check(eventfd(0, CloseOnExec | EFD_NONBLOCK), "eventfd");

    public static void Add(int epoll, int fd, uint events, ulong token)
    {
        byte* ev = stackalloc byte[16];
        WriteEvent(ev, events, token);
        Check(epoll_ctl(epoll, EPOLL_CTL_ADD, fd, ev), "epoll_ctl(ADD)");
    }

    public static void Remove(int epoll, int fd)
    {
        byte* ev = stackalloc byte[16];
        epoll_ctl(epoll, EPOLL_CTL_DEL, fd, ev);
    }

    public static (uint Events, ulong Token) ReadEvent(byte* events, int index)
    {
        byte* ev = events + index * EpollEventSize;
        return (Unsafe.ReadUnaligned<uint>(ev), Unsafe.ReadUnaligned<ulong>(ev + EpollDataOffset));
    }

    public static int Wait(int epoll, byte* events, int capacity, int timeoutMs) => epoll_wait(epoll, events, capacity, timeoutMs);

    public static void Signal(int eventFd)
    {
        ulong one = 1;
        write(eventFd, &one, sizeof(ulong));
    }

    public static void Drain(int eventFd)
    {
        ulong value;
        read(eventFd, &value, sizeof(ulong));
    }

    /// <summary>Bytes received, 0 at end of stream, or -1 with <paramref name="errno"/> set.</summary>
    public static nint Receive(int fd, byte* buffer, int length, out int errno)
    {
        nint n = syscall(SysRecvFrom, fd, (nint)buffer, length, 0, 0, 0);
        errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        return n;
    }

    /// <summary>Bytes sent from the <paramref name="count"/> buffers, or -1 with <paramref name="errno"/> set.</summary>
    public static nint Send(int fd, IoVector* buffers, int count, out int errno)
    {
        // One buffer (a small response, a request head) goes through sendto: sendmsg first copies in the message
        // header and imports the vector array, 1.3% of the proxy's time in the kernel profile.
        nint n;
        if (count == 1)
        {
            n = syscall(SysSendTo, fd, (nint)buffers->Base, (nint)buffers->Length, MSG_NOSIGNAL, 0, 0);
        }
        else
        {
            var message = new MessageHeader { Buffers = buffers, BufferCount = (nuint)count };
            n = syscall(SysSendMsg, fd, (nint)(&message), MSG_NOSIGNAL, 0, 0, 0);
        }

        errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
        return n;
    }

    /// <summary>
    /// Makes a socket's calls return EAGAIN instead of waiting. Done here rather than through Socket.Blocking, which
    /// also gives the socket a context in .NET's own socket engine (four objects per connection that nothing uses).
    /// </summary>
    public static void SetNonBlocking(int fd)
    {
        int flags = Check(fcntl(fd, F_GETFL, 0), "fcntl");
        Check(fcntl(fd, F_SETFL, flags | O_NONBLOCK), "fcntl");
    }

    /// <summary>A new non-blocking TCP socket of <paramref name="family"/>'s kind.</summary>
    public static int OpenStream(AddressFamily family)
    {
        int fd = socket(family == AddressFamily.InterNetworkV6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | CloseOnExec, 0);
        return fd >= 0 ? fd : throw new SocketException((int)ToSocketError(Marshal.GetLastPInvokeError()));
    }

    /// <summary>
    /// Accepts a connection as a non-blocking socket, with the peer's address written to <paramref name="address"/>
    /// (<see cref="MaxAddressLength"/> bytes); -1 with <paramref name="errno"/> set when there is none or it failed.
    /// </summary>
    public static int Accept(int listenFd, byte* address, out int errno)
    {
        uint length = MaxAddressLength;
        int fd = accept4(listenFd, address, &length, SOCK_NONBLOCK | CloseOnExec);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return fd;
    }

    /// <summary>Sends each small write at once (no Nagle delay): heads and short bodies are whole messages.</summary>
    public static void SetNoDelay(int fd)
    {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(int));
    }

    /// <summary>Ends the connection both ways; errors (the peer is already gone) change nothing for the caller.</summary>
    public static void Shutdown(int fd) => shutdown(fd, SHUT_RDWR);

    public static void Close(int fd) => close(fd);

    /// <summary>Writes the socket's own (<paramref name="peer"/> false) or its peer's address; false when it has none.</summary>
    public static bool GetAddress(int fd, bool peer, byte* address)
    {
        uint length = MaxAddressLength;
        return (peer ? getpeername(fd, address, &length) : getsockname(fd, address, &length)) == 0;
    }

    /// <summary>An IP endpoint from a sockaddr_in or sockaddr_in6; null for any other family.</summary>
    public static IPEndPoint? ToEndPoint(ReadOnlySpan<byte> address)
    {
        ushort family = MemoryMarshal.Read<ushort>(address);
        int port = BinaryPrimitives.ReadUInt16BigEndian(address[2..]);
        return family switch
        {
            AF_INET => new IPEndPoint(new IPAddress(address.Slice(4, 4)), port),
            AF_INET6 => new IPEndPoint(new IPAddress(address.Slice(8, 16), MemoryMarshal.Read<uint>(address[24..])), port),
            _ => null,
        };
    }

    /// <summary>0 when connected, or the errno (<see cref="EINPROGRESS"/> while a non-blocking connect proceeds).</summary>
    public static int Connect(int fd, ReadOnlySpan<byte> socketAddress)
    {
        fixed (byte* address = socketAddress)
        {
            return connect(fd, address, (uint)socketAddress.Length) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>The errno a non-blocking connect ended with (SO_ERROR), 0 when it succeeded.</summary>
    public static int PendingError(int fd)
    {
        int error = 0;
        uint length = sizeof(int);
        return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 ? error : Marshal.GetLastPInvokeError();
    }

    /// <summary>The platform's name for the errors a connect, recv or send reports.</summary>
    public static SocketError ToSocketError(int errno) => errno switch
    {
        ECONNRESET => SocketError.ConnectionReset,
        ENFILE or EMFILE => SocketError.TooManyOpenSockets,
        EPIPE => SocketError.Shutdown,
        EAGAIN => SocketError.WouldBlock,
        101 => SocketError.NetworkUnreachable,
        ECONNABORTED => SocketError.ConnectionAborted,
        107 => SocketError.NotConnected,
        110 => SocketError.TimedOut,
        111 => SocketError.ConnectionRefused,
        113 => SocketError.HostUnreachable,
        _ => SocketError.SocketError,
    };

    private static void WriteEvent(byte* ev, uint events, ulong token)
    {
        Unsafe.WriteUnaligned(ev, events);
        Unsafe.WriteUnaligned(ev + EpollDataOffset, token);
    }

    private static int Check(int result, string call) =>
        result >= 0 ? result : throw new IOException($"{call} failed: errno {Marshal.GetLastPInvokeError()}");

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Buffers;
        public nuint BufferCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_wait(int epfd, byte* events, int maxevents, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, void* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, void* buffer, nint count);

    /// <summary>
    /// syscall(2) is variadic; on both architectures glibc implements it by moving the registers of a plain call
    /// into the kernel's, so a fixed-arity import with every argument an integer is the same call.
    /// </summary>
    [LibraryImport("libc", SetLastError = true)]
    private static partial nint syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    /// <summary>Variadic like syscall(2); an integer third argument is passed the same way as in a plain call.</summary>
    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(int fd, byte* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockopt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int accept4(int fd, byte* address, uint* length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int shutdown(int fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockname(int fd, byte* address, uint* length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getpeername(int fd, byte* address, uint* length);
}
