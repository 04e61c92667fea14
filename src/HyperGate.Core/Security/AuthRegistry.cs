using System.Net.Http;
using System.Text;
using HyperGate.Configuration;
using Microsoft.Extensions.Logging;

namespace HyperGate.Security;

/// <summary>
/// Builds the authenticators of a config and owns what they hold: JWKS sources and their HTTP client.
/// A reload builds a new generation with <see cref="Create"/>; <see cref="Commit"/> makes it current and
/// disposes the previous one, <see cref="Abandon"/> drops it.
/// </summary>
public sealed class AuthRegistry : IDisposable
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private List<IAuthenticator> _current = [];
    private List<IAuthenticator> _next = [];
    private List<JwksSource> _currentKeySources = [];
    private List<JwksSource> _nextKeySources = [];

    public AuthRegistry(TimeProvider time, ILogger logger)
    {
        _time = time;
        _logger = logger;
    }

    public IAuthenticator Create(AuthConfig config, ConsumerDirectory consumers)
    {
        IAuthenticator authenticator = config.Type switch
        {
            AuthType.ApiKey => new ApiKeyAuthenticator(config.Name, config.Header, config.Query, consumers),
            AuthType.Basic => new BasicAuthenticator(config.Name, consumers, config.CacheTtl, _time),
            AuthType.ClientCert => new ClientCertificateAuthenticator(config.Name, consumers),
            _ => new JwtAuthenticator(config.Name, JwtSettingsOf(config), KeySourceOf(config), _time),
        };
        _next.Add(authenticator);
        return authenticator;
    }

    /// <summary>
    /// Loads every JWKS of the current generation once, at start, so the first requests do not wait for it;
    /// a failure is logged and retried later.
    /// </summary>
    public Task LoadKeysAsync() => LoadAsync(_currentKeySources);

    /// <summary>The same for the generation a reload is building, before it serves.</summary>
    public Task LoadNextKeysAsync() => LoadAsync(_nextKeySources);

    private static Task LoadAsync(List<JwksSource> sources) => Task.WhenAll(sources.Select(source => source.RefreshAsync(onDemand: false)));

    /// <summary>
    /// The generation built since the last commit becomes current; the previous one is disposed. Requests
    /// still finishing on the previous snapshot can go on using its authenticators: disposing one only stops
    /// its background key refresh.
    /// </summary>
    public void Commit()
    {
        DisposeAll(_current);
        _current = _next;
        _currentKeySources = _nextKeySources;
        _next = [];
        _nextKeySources = [];
    }

    /// <summary>Drops the generation built since the last commit (its config was refused).</summary>
    public void Abandon()
    {
        DisposeAll(_next);
        _next = [];
        _nextKeySources = [];
    }

    private static void DisposeAll(List<IAuthenticator> authenticators)
    {
        foreach (IAuthenticator authenticator in authenticators)
        {
            authenticator.Dispose();
        }
    }

    private static JwtSettings JwtSettingsOf(AuthConfig config) => new(
        config.Issuer!,
        config.Audiences,
        config.Algorithms,
        config.ClockSkew,
        config.ConsumerClaim,
        config.Secret is null ? null : Encoding.UTF8.GetBytes(config.Secret));

    private JwksSource? KeySourceOf(AuthConfig config)
    {
        JwksSource? source = config switch
        {
            { JwksFile: { } file } => JwksSource.FromFile(file, config.JwksRefresh, _time, _logger),
            { JwksUrl: { } url } => JwksSource.FromUrl(new Uri(url), _http, config.JwksRefresh, _time, _logger),
            _ => null,
        };
        if (source is not null)
        {
            _nextKeySources.Add(source);
        }

        return source;
    }

    public void Dispose()
    {
        Abandon();
        DisposeAll(_current);
        _http.Dispose();
    }
}
