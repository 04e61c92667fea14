using HyperGate.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.Configuration;

/// <summary>What counts as a change of a watched file, looked at once a second.</summary>
public sealed class FilePollerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("poller").FullName;
    private readonly FakeTimeProvider _time = new();
    private int _changes;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private FilePoller Watch(string path) => new([path], _time, () => Interlocked.Increment(ref _changes));

    private string Write(string name, string text)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void AWrite_IsSeenAtTheNextLook_Once()
    {
        string config = Write("hypergate.toml", "a = 1");
        using FilePoller poller = Watch(config);

        File.WriteAllText(config, "a = 22");
        Assert.Equal(0, _changes);
        _time.Advance(FilePoller.Interval);
        Assert.Equal(1, _changes);

        _time.Advance(FilePoller.Interval);
        Assert.Equal(1, _changes);
    }

    [Fact]
    public void WritesToOtherFilesBesideIt_AreNotChanges()
    {
        string config = Write("hypergate.toml", "a = 1");
        using FilePoller poller = Watch(config);

        Write("access.log", "a line\n");
        _time.Advance(FilePoller.Interval);

        Assert.Equal(0, _changes);
    }

    [Fact]
    public void ALinkSwappedToAnotherFile_IsAChange_AsAMountedConfigMapIsUpdated()
    {
        // A ConfigMap's file is reached through links that an update replaces by renaming a new link over the old:
        // what counts is the file the path leads to.
        Directory.CreateDirectory(Path.Combine(_directory, "v1"));
        Directory.CreateDirectory(Path.Combine(_directory, "v2"));
        string first = Write("v1/hypergate.toml", "a = 1");
        string second = Write("v2/hypergate.toml", "a = 2");
        string config = Path.Combine(_directory, "hypergate.toml");
        File.CreateSymbolicLink(config, first);
        using FilePoller poller = Watch(config);

        string next = Path.Combine(_directory, "..data_tmp");
        File.CreateSymbolicLink(next, second);
        File.Move(next, config, overwrite: true);
        _time.Advance(FilePoller.Interval);

        Assert.Equal(1, _changes);
    }

    [Fact]
    public void AFileThatGoesAndComesBack_IsAChangeEachTime()
    {
        string config = Write("hypergate.toml", "a = 1");
        using FilePoller poller = Watch(config);

        File.Delete(config);
        _time.Advance(FilePoller.Interval);
        Write("hypergate.toml", "a = 1");
        _time.Advance(FilePoller.Interval);

        Assert.Equal(2, _changes);
    }
}
