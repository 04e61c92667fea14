using System.Buffers;
using System.Threading.Channels;
using HyperGate.Configuration;
using Microsoft.Extensions.Logging;

namespace HyperGate.Diagnostics;

/// <summary>
/// Writes access log lines (JSON, one per request) to stdout or a file rotated by size, from a background
/// task. The data plane only hands over a finished line: when the bounded queue is full the line is dropped
/// and counted, so a slow disk never slows a request.
/// </summary>
public sealed class AccessLog : IAsyncDisposable
{
    private readonly AccessLogConfig _config;
    private readonly ILogger _logger;
    private readonly Channel<LogLine> _queue;
    private readonly Task _writer;
    private long _dropped;

    public AccessLog(AccessLogConfig config, ILogger logger)
    {
        _config = config;
        _logger = logger;
        _queue = Channel.CreateBounded<LogLine>(new BoundedChannelOptions(config.QueueSize)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _writer = Task.Run(WriteLinesAsync);
    }

    /// <summary>Lines dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues a copy of <paramref name="line"/> (which ends with a newline); never waits.</summary>
    public void Enqueue(ReadOnlySpan<byte> line)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(line.Length);
        line.CopyTo(buffer);
        if (!_queue.Writer.TryWrite(new LogLine(buffer, line.Length)))
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Interlocked.Increment(ref _dropped);
        }
    }

    private async Task WriteLinesAsync()
    {
        ChannelReader<LogLine> reader = _queue.Reader;
        Stream? output = null;
        long size = 0;
        try
        {
            output = Open(out size);
            while (await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out LogLine line))
                {
                    try
                    {
                        if (!_config.ToStdout && size > 0 && size + line.Length > _config.MaxSize)
                        {
                            await output.DisposeAsync();
                            Rotate();
                            output = Open(out size);
                        }

                        await output.WriteAsync(line.Buffer.AsMemory(0, line.Length));
                        size += line.Length;
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(line.Buffer);
                    }
                }

                // One flush per batch: lines queued together leave in one write.
                await output.FlushAsync();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogError("the access log stopped: {Error}", e.Message);
            while (reader.TryRead(out LogLine line))
            {
                ArrayPool<byte>.Shared.Return(line.Buffer);
                Interlocked.Increment(ref _dropped);
            }
        }
        finally
        {
            if (output is not null)
            {
                await output.DisposeAsync();
            }
        }
    }

    private Stream Open(out long size)
    {
        if (_config.ToStdout)
        {
            size = 0;
            return Console.OpenStandardOutput();
        }

        string? directory = Path.GetDirectoryName(Path.GetFullPath(_config.Path!));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        var file = new FileStream(_config.Path!, FileMode.Append, FileAccess.Write, FileShare.Read, 64 * 1024);
        size = file.Length;
        return file;
    }

    /// <summary>access.log → access.log.1 → … → access.log.N; the oldest is deleted.</summary>
    private void Rotate()
    {
        string path = _config.Path!;
        File.Delete($"{path}.{_config.MaxFiles}");
        for (int i = _config.MaxFiles - 1; i >= 1; i--)
        {
            if (File.Exists($"{path}.{i}"))
            {
                File.Move($"{path}.{i}", $"{path}.{i + 1}");
            }
        }

        File.Move(path, $"{path}.1");
    }

    /// <summary>Writes what is queued, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }

    private readonly record struct LogLine(byte[] Buffer, int Length);
}
