namespace HyperGate.Configuration;

/// <summary>
/// Watches files by looking at their modification time and length once a second, and says when any of them changed.
/// A directory watcher (inotify) would wake for every write to any file beside them, an access log kept next to the
/// config among them (a load run measured 140 bytes allocated per request, all the watcher's), and misses a file
/// swapped in through a renamed symbolic link, as Kubernetes updates a mounted ConfigMap; a look a second costs one
/// stat per file, follows links, and works on any file system.
/// </summary>
public sealed class FilePoller : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly string[] _paths;
    private readonly (string File, DateTime Written, long Length)[] _seen;
    private readonly Action _changed;
    private readonly ITimer _timer;

    public FilePoller(IEnumerable<string> paths, TimeProvider time, Action changed)
    {
        _paths = [.. paths];
        _seen = [.. _paths.Select(Look)];
        _changed = changed;
        _timer = time.CreateTimer(static state => ((FilePoller)state!).Check(), this, Interval, Interval);
    }

    private void Check()
    {
        bool changed = false;
        lock (_seen)
        {
            for (int i = 0; i < _paths.Length; i++)
            {
                (string File, DateTime Written, long Length) now = Look(_paths[i]);
                changed |= now != _seen[i];
                _seen[i] = now;
            }
        }

        if (changed)
        {
            _changed();
        }
    }

    /// <summary>
    /// The file a path leads to (through links), its modification time and length; a file that is not there, or
    /// cannot be read, is ("", 0, -1).
    /// </summary>
    private static (string File, DateTime Written, long Length) Look(string path)
    {
        try
        {
            var link = new FileInfo(path);
            if ((link.LinkTarget is null ? link : link.ResolveLinkTarget(returnFinalTarget: true)) is FileInfo { Exists: true } file)
            {
                return (file.FullName, file.LastWriteTimeUtc, file.Length);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return ("", default, -1);
    }

    public void Dispose() => _timer.Dispose();
}
