using System.Runtime.InteropServices;
using HyperGate.Configuration;
using HyperGate.Diagnostics;
using Microsoft.Extensions.Logging;

namespace HyperGate.Hosting;

/// <summary>The outcome of one reload: applied (possibly with notes), or refused with every error.</summary>
public sealed record ReloadResult(bool Applied, string Version, IReadOnlyList<ConfigError> Errors, IReadOnlyList<string> Notes);

/// <summary>
/// Reloads the config file on request (the admin API), on SIGHUP, and when the file changes. A file that does not
/// load or compile is refused: the running config keeps serving and the errors are logged and returned.
/// </summary>
public sealed class ConfigReloader : IDisposable
{
    /// <summary>Editors save in several steps; changes closer together than this are one reload.</summary>
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(250);

    private readonly GatewayRuntime _runtime;
    private readonly DataPlaneListeners _listeners;
    private readonly string _path;
    private readonly ILogger _logger;
    private readonly FilePoller? _watcher;
    private readonly bool _watch;
    private FilePoller? _certificateWatcher;
    private readonly ITimer _debounce;
    private readonly PosixSignalRegistration? _hangup;

    public ConfigReloader(GatewayRuntime runtime, DataPlaneListeners listeners, string path, ILogger logger, bool watch)
    {
        _runtime = runtime;
        _listeners = listeners;
        _path = path;
        _logger = logger;
        _watch = watch;
        _debounce = runtime.TimeProvider.CreateTimer(static state => _ = ((ConfigReloader)state!).ReloadAsync("file change"), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (watch && File.Exists(path))
        {
            _watcher = new FilePoller([Path.GetFullPath(path)], runtime.TimeProvider, FileChanged);
        }

        WatchCertificates(runtime.Snapshot.Config);

        if (!OperatingSystem.IsWindows())
        {
            _hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                _ = ReloadAsync("SIGHUP");
            });
        }
    }

    /// <summary>The last reload's outcome; null before the first.</summary>
    public ReloadResult? LastResult { get; private set; }

    public DateTimeOffset? LastReloadAt { get; private set; }

    /// <summary>Raised after every reload, whatever triggered it, with its outcome.</summary>
    public event Action<ReloadResult>? Reloaded;

    private void FileChanged() => _debounce.Change(Debounce, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// Certificate and key files are watched like the config file: a renewed pair written over the old one is a reload
    /// (new handshakes get it; open connections keep theirs). The set follows the running config.
    /// </summary>
    private void WatchCertificates(GatewayConfig config)
    {
        if (!_watch)
        {
            return;
        }

        string[] files = [.. config.Tls.Certificates.SelectMany(c => (string[])[c.CertPath, c.KeyPath]).Distinct(StringComparer.Ordinal)];
        FilePoller? watcher = files.Length == 0 ? null : new FilePoller(files, _runtime.TimeProvider, FileChanged);
        Interlocked.Exchange(ref _certificateWatcher, watcher)?.Dispose();
    }

    /// <summary>Reads, validates and compiles the file, then swaps it in; a file identical to the running one changes nothing.</summary>
    public async Task<ReloadResult> ReloadAsync(string trigger)
    {
        GatewaySnapshot current = _runtime.Snapshot;
        ReloadResult result;
        ReloadOutcome outcome = ReloadOutcome.Applied;
        try
        {
            GatewayConfig config = ConfigLoader.Load(_path);
            if (config.Version == current.Config.Version)
            {
                outcome = ReloadOutcome.Unchanged;
                result = new ReloadResult(true, config.Version, [], ["the file is unchanged"]);
                _logger.LogInformation("config reload ({Trigger}): the file is unchanged; version {Version} keeps serving", trigger, config.Version);
            }
            else
            {
                await _runtime.ReloadAsync(config, () => _listeners.ApplyAsync(config.Server.Listen, config.Server.DrainTimeout));
                WatchCertificates(config);
                result = new ReloadResult(true, config.Version, [], RestartOnlyChanges(current.Config, config));
                _logger.LogInformation("config reloaded ({Trigger}): version {Version}, {Summary}", trigger, config.Version, config.Summary);
                foreach (string note in result.Notes)
                {
                    _logger.LogWarning("config reload: {Note}", note);
                }

                foreach (ConfigError warning in config.Warnings)
                {
                    _logger.LogWarning("config: {Warning}", warning);
                }
            }
        }
        catch (ConfigException e)
        {
            outcome = ReloadOutcome.Refused;
            result = new ReloadResult(false, current.Config.Version, e.Errors, []);
            _logger.LogError("config reload ({Trigger}) refused, version {Version} keeps serving:{NewLine}{Errors}",
                trigger, current.Config.Version, Environment.NewLine, string.Join(Environment.NewLine, e.Errors));
        }

        _runtime.Telemetry.Metrics.CountReload(outcome);
        LastResult = result;
        LastReloadAt = _runtime.TimeProvider.GetUtcNow();
        Reloaded?.Invoke(result);
        return result;
    }

    /// <summary>Settings bound when the process starts: a reload keeps the running values and says so.</summary>
    private static List<string> RestartOnlyChanges(GatewayConfig running, GatewayConfig next)
    {
        var notes = new List<string>();
        void Check(bool changed, string what)
        {
            if (changed)
            {
                notes.Add($"{what} changed; the running value stays until the gateway restarts");
            }
        }

        Check(running.Server.DrainTimeout != next.Server.DrainTimeout, "server.drain_timeout for shutdown");
        Check(running.Admin != next.Admin, "[admin]");
        Check(running.Cluster != next.Cluster, "[cluster]");
        Check(running.AccessLog != next.AccessLog, "[access_log]");
        Check(running.Tracing.OtlpEndpoint != next.Tracing.OtlpEndpoint || running.Tracing.ServiceName != next.Tracing.ServiceName, "tracing.otlp_endpoint and service_name");
        return notes;
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _certificateWatcher?.Dispose();
        _hangup?.Dispose();
        _debounce.Dispose();
    }
}
