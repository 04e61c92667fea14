using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>An issuer's JWKS endpoint on 127.0.0.1, whose key set the test can rotate, counting fetches.</summary>
public sealed class JwksServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private volatile string _jwks = "{\"keys\":[]}";
    private int _fetches;

    private JwksServer(WebApplication app) => _app = app;

    public string Url { get; private set; } = string.Empty;

    public int Fetches => Volatile.Read(ref _fetches);

    public string Jwks
    {
        set => _jwks = value;
    }

    public static async Task<JwksServer> StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        var server = new JwksServer(app);
        app.MapGet("/.well-known/jwks.json", () =>
        {
            Interlocked.Increment(ref server._fetches);
            return Results.Text(server._jwks, "application/json");
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = $"{address}/.well-known/jwks.json";
        return server;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
