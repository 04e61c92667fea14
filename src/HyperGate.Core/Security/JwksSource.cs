using System.Net.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace HyperGate.Security;

/// <summary>
/// The signing keys of a JWT issuer, from a JWKS file or URL. Loaded at start and refreshed in the background
/// every <c>jwks_refresh</c>; refreshed on demand when a token names a key id we do not know (key rotation),
/// at most once per <see cref="MinRefreshInterval"/> so that tokens with made-up key ids cannot flood the issuer.
/// </summary>
public sealed class JwksSource : IDisposable
{
    public static readonly TimeSpan MinRefreshInterval = TimeSpan.FromSeconds(30);

    private readonly Func<CancellationToken, Task<string>> _fetch;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ITimer _refreshTimer;
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private volatile IReadOnlyList<SecurityKey> _keys = [];
    private long _lastOnDemandRefresh = long.MinValue;

    public JwksSource(string description, Func<CancellationToken, Task<string>> fetch, TimeSpan refreshInterval, TimeProvider time, ILogger logger)
    {
        Description = description;
        _fetch = fetch;
        _time = time;
        _logger = logger;
        _refreshTimer = time.CreateTimer(static state => _ = ((JwksSource)state!).RefreshAsync(onDemand: false), this, refreshInterval, refreshInterval);
    }

    public static JwksSource FromFile(string path, TimeSpan refreshInterval, TimeProvider time, ILogger logger) =>
        new(path, token => File.ReadAllTextAsync(path, token), refreshInterval, time, logger);

    public static JwksSource FromUrl(Uri url, HttpClient client, TimeSpan refreshInterval, TimeProvider time, ILogger logger) =>
        new(url.ToString(), token => client.GetStringAsync(url, token), refreshInterval, time, logger);

    public string Description { get; }

    public IReadOnlyList<SecurityKey> Keys => _keys;

    /// <summary>
    /// Fetches the key set again. An on-demand refresh (for a token we could not check) does nothing when the
    /// last one was less than <see cref="MinRefreshInterval"/> ago. A failed fetch keeps the keys we had.
    /// </summary>
    public async Task RefreshAsync(bool onDemand)
    {
        await _refreshing.WaitAsync();
        try
        {
            if (onDemand)
            {
                long now = _time.GetTimestamp();
                if (_lastOnDemandRefresh != long.MinValue && _time.GetElapsedTime(_lastOnDemandRefresh, now) < MinRefreshInterval)
                {
                    return;
                }

                _lastOnDemandRefresh = now;
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            string json = await _fetch(timeout.Token);
            _keys = [.. new JsonWebKeySet(json).GetSigningKeys()];
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException or ArgumentException or UnauthorizedAccessException)
        {
            _logger.LogWarning("cannot refresh the JWKS from {Source}: {Error}; keeping {Count} known keys", Description, e.Message, _keys.Count);
        }
        finally
        {
            _refreshing.Release();
        }
    }

    /// <summary>
    /// Stops the background refresh. The semaphore is left undisposed on purpose: a request that started on the
    /// previous config may still be refreshing on demand, and an undisposed SemaphoreSlim holds nothing to free.
    /// </summary>
    public void Dispose() => _refreshTimer.Dispose();
}
