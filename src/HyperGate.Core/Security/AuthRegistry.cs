using System.Net.Http;
using System.Text;
using HyperGate.Configuration;
using Microsoft.Extensions.Logging;

namespace HyperGate.Security;

/// <summary>Builds the authenticators of a config and owns what they hold: JWKS sources and their HTTP client.</summary>
public sealed class AuthRegistry : IDisposable
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly List<IAuthenticator> _authenticators = [];
    private readonly List<JwksSource> _keySources = [];

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
            _ => new JwtAuthenticator(config.Name, JwtSettingsOf(config), KeySourceOf(config), _time),
        };
        _authenticators.Add(authenticator);
        return authenticator;
    }

    /// <summary>Loads every JWKS once, so the first requests do not wait for it; a failure is logged and retried later.</summary>
    public Task LoadKeysAsync() => Task.WhenAll(_keySources.Select(source => source.RefreshAsync(onDemand: false)));

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
            _keySources.Add(source);
        }

        return source;
    }

    public void Dispose()
    {
        foreach (IAuthenticator authenticator in _authenticators)
        {
            authenticator.Dispose();
        }

        _http.Dispose();
    }
}
