using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using HyperGate.Buffers;

namespace HyperGate.Transport;

/// <summary>
/// One thread that waits on an epoll set and runs the I/O of the sockets it owns, plus work posted to it. The gateway's
/// request loop runs here too (the socket pipes call their readers inline), so an exchange is received, routed,
/// forwarded and answered on one thread without handing work to another: on a busy core every hand-off is a context
/// switch, which is what this loop exists to avoid. Sockets are registered edge-triggered for reading and writing
/// once, so steady state makes no epoll_ctl call.
/// </summary>
internal sealed unsafe class EventLoop : PipeScheduler
{
    private const ulong WakeToken = ulong.MaxValue;

    /// <summary>Marks a listening socket's token; a connection's carries a 31-bit generation, so never this bit.</summary>
    private const ulong ListenerToken = 1UL << 63;
    private const int EventsPerWait = 256;

    /// <summary>Posted work run per turn before the loop polls its sockets again, so posting cannot starve them.</summary>
    private const int WorkPerTurn = 1024;

    /// <summary>Deferred flushes that make the loop send between two events: a long turn still sends as it goes.</summary>
    private const int DeferredFlushesPerSend = 64;

    /// <summary>Closed connection objects kept for the loop's next sockets: enough for a burst of new connections, bounded for memory.</summary>
    private const int MaxRecycledConnections = 512;

    [ThreadStatic]
    private static EventLoop? t_current;

    private readonly int _epoll;
    private readonly int _wakeFd;
    private readonly ConcurrentQueue<(Action<object?> Action, object? State)> _work = new();
    private readonly ConcurrentQueue<EventLoopConnection> _recycled = new();
    private readonly List<SocketOutput> _deferredFlushes = [];
    private int _recycledCount;
    private readonly Lock _registrations = new();
    private readonly Stack<int> _freeSlots = new();
    private EventLoopConnection?[] _slots = new EventLoopConnection?[64];
    private Action?[] _listeners = [];
    private int _usedSlots;
    private uint _generation;
    private int _wakeRequested;

    public EventLoop(int index, RetainingBlockPool pool)
    {
        Pool = pool;

        // As Kestrel's socket transport: up to 1 MiB received ahead of the reader. The options are immutable, so the
        // loop's connections share one instance.
        ReceiveOptions = new PipeOptions(pool, readerScheduler: PipeScheduler.Inline, writerScheduler: this,
            pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, minimumSegmentSize: pool.MaxBufferSize, useSynchronizationContext: false);
        _epoll = LinuxSockets.CreateEpoll();
        _wakeFd = LinuxSockets.CreateEventFd();
        LinuxSockets.Add(_epoll, _wakeFd, LinuxSockets.EPOLLIN, WakeToken);
        new Thread(Run) { IsBackground = true, Name = $"HyperGate event loop {index}" }.Start();
    }

    /// <summary>The blocks its connections read into and write from; the loop's thread keeps some for itself.</summary>
    public RetainingBlockPool Pool { get; }

    /// <summary>The pipe options of its connections' input: written on the loop, read inline.</summary>
    public PipeOptions ReceiveOptions { get; }

    /// <summary>The loop running on the calling thread, if any.</summary>
    public static EventLoop? Current => t_current;

    /// <summary>
    /// A connection on this loop for the socket <paramref name="fd"/> (with its peer's address when accepted): an
    /// earlier connection's object when one is free.
    /// </summary>
    public EventLoopConnection Connection(int fd, ReadOnlySpan<byte> peerAddress)
    {
        EventLoopConnection? connection;
        if (_recycled.TryDequeue(out connection))
        {
            Interlocked.Decrement(ref _recycledCount);
        }
        else
        {
            connection = new EventLoopConnection(this);
        }

        connection.Open(fd, peerAddress);
        return connection;
    }

    /// <summary>Keeps a closed connection's object for a later socket (see <see cref="IRecyclableConnection"/>).</summary>
    public void Recycle(EventLoopConnection connection)
    {
        if (Interlocked.Increment(ref _recycledCount) <= MaxRecycledConnections)
        {
            _recycled.Enqueue(connection);
        }
        else
        {
            Interlocked.Decrement(ref _recycledCount);
        }
    }

    /// <summary>
    /// Sends <paramref name="output"/>'s flush at the end of this turn, with the other sockets': called on this loop's
    /// thread (see <see cref="SocketOutput"/>).
    /// </summary>
    public void DeferFlush(SocketOutput output) => _deferredFlushes.Add(output);

    /// <summary>
    /// Sends the deferred flushes. Only between two events or work items: no writer is then in the middle of a write
    /// (holding a span of the memory a send gives back).
    /// </summary>
    private void SendDeferredFlushes()
    {
        // Index by index: a send runs no user code, so nothing is added meanwhile.
        for (int i = 0; i < _deferredFlushes.Count; i++)
        {
            _deferredFlushes[i].SendDeferred();
        }

        _deferredFlushes.Clear();
    }

    public override void Schedule(Action<object?> action, object? state)
    {
        _work.Enqueue((action, state));
        if (t_current != this && Interlocked.Exchange(ref _wakeRequested, 1) == 0)
        {
            LinuxSockets.Signal(_wakeFd);
        }
    }

    /// <summary>Adds a socket to the epoll set; its events go to <paramref name="connection"/> on this loop's thread.</summary>
    public void Register(EventLoopConnection connection, int fd)
    {
        lock (_registrations)
        {
            int slot = _freeSlots.Count > 0 ? _freeSlots.Pop() : _usedSlots++;
            if (slot == _slots.Length)
            {
                EventLoopConnection?[] larger = new EventLoopConnection?[_slots.Length * 2];
                _slots.CopyTo(larger, 0);
                Volatile.Write(ref _slots, larger);
            }

            // The generation tells a late event for a socket that is gone from one for the slot's next socket.
            _generation = (_generation % int.MaxValue) + 1;
            connection.Token = (ulong)_generation << 32 | (uint)slot;
            Volatile.Write(ref _slots[slot], connection);
        }

        LinuxSockets.Add(_epoll, fd, LinuxSockets.EPOLLIN | LinuxSockets.EPOLLOUT | LinuxSockets.EPOLLRDHUP | LinuxSockets.EPOLLET, connection.Token);
    }

    /// <summary>
    /// Watches a listening socket: <paramref name="onReadable"/> runs on this loop's thread at each edge (connections
    /// are waiting). Returns the key for <see cref="UnwatchListener"/>.
    /// </summary>
    public int WatchListener(int fd, Action onReadable)
    {
        int index;
        lock (_registrations)
        {
            index = Array.IndexOf(_listeners, null);
            if (index < 0)
            {
                index = _listeners.Length;
                Action?[] larger = new Action?[index + 1];
                _listeners.CopyTo(larger, 0);
                Volatile.Write(ref _listeners, larger);
            }

            Volatile.Write(ref _listeners[index], onReadable);
        }

        LinuxSockets.Add(_epoll, fd, LinuxSockets.EPOLLIN | LinuxSockets.EPOLLET, ListenerToken | (uint)index);
        return index;
    }

    /// <summary>Stops watching a listening socket (before it is closed).</summary>
    public void UnwatchListener(int fd, int index)
    {
        LinuxSockets.Remove(_epoll, fd);
        lock (_registrations)
        {
            _listeners[index] = null;
        }
    }

    /// <summary>Removes a socket; called on this loop's thread, so no event for it is being handled meanwhile.</summary>
    public void Unregister(EventLoopConnection connection, int fd)
    {
        LinuxSockets.Remove(_epoll, fd);
        lock (_registrations)
        {
            int slot = (int)(uint)connection.Token;
            _slots[slot] = null;
            _freeSlots.Push(slot);
        }
    }

    private void Run()
    {
        t_current = this;
        Pool.KeepBlocksOnThisThread();
        byte* events = (byte*)NativeMemory.Alloc((nuint)(EventsPerWait * LinuxSockets.EpollEventSize));
        while (true)
        {
            int count = LinuxSockets.Wait(_epoll, events, EventsPerWait, _work.IsEmpty ? -1 : 0);
            for (int i = 0; i < count; i++)
            {
                (uint mask, ulong token) = LinuxSockets.ReadEvent(events, i);
                if (token == WakeToken)
                {
                    LinuxSockets.Drain(_wakeFd);
                    continue;
                }

                if ((token & ListenerToken) != 0)
                {
                    Volatile.Read(ref _listeners)[(int)(uint)token]?.Invoke();
                    continue;
                }

                EventLoopConnection? connection = Volatile.Read(ref _slots)[(int)(uint)token];
                if (connection is not null && connection.Token == token)
                {
                    connection.OnEvents(mask);
                }

                if (_deferredFlushes.Count >= DeferredFlushesPerSend)
                {
                    SendDeferredFlushes();
                }
            }

            // Reset before draining: work posted from now on either is seen below or wakes the next wait.
            Volatile.Write(ref _wakeRequested, 0);
            for (int i = 0; i < WorkPerTurn && _work.TryDequeue(out (Action<object?> Action, object? State) item); i++)
            {
                item.Action(item.State);
                if (_deferredFlushes.Count >= DeferredFlushesPerSend)
                {
                    SendDeferredFlushes();
                }
            }

            SendDeferredFlushes();
        }
    }
}
