using System.Net;
using HyperGate.Configuration;
using HyperGate.Hosting;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>A gateway started in-process on 127.0.0.1 with a port chosen by the OS.</summary>
public sealed class TestGateway : IAsyncDisposable
{
    private TestGateway(GatewayHost host) => Host = host;

    public GatewayHost Host { get; }

    public IPEndPoint EndPoint => Host.Endpoints[0];

    public Uri BaseUri => new($"http://{EndPoint}");

    /// <summary>The admin listener (the config must have <c>[admin] listen = "127.0.0.1:0"</c>).</summary>
    public Uri AdminUri => Host.Admin!.Address;

    /// <summary>Starts a gateway from config text; the [server] section is added unless given.</summary>
    public static async Task<TestGateway> StartAsync(string toml, GatewayHostOptions? options = null) =>
        new(await GatewayHost.StartAsync(ConfigLoader.Parse(WithServer(toml), "test.toml"), options));

    /// <summary>Starts a gateway from a config file, as the binary does (so that it can be reloaded).</summary>
    public static async Task<TestGateway> StartFromFileAsync(string path) =>
        new(await GatewayHost.StartAsync(ConfigLoader.Load(path)));

    public static string WithServer(string toml) => toml.Contains("[server]", StringComparison.Ordinal)
        ? toml
        : "[server]\nlisten = [\"127.0.0.1:0\"]\ndrain_timeout = \"10s\"\nwatch_config = false\n\n" + toml;

    /// <summary>One upstream and one catch-all route to it.</summary>
    public static Task<TestGateway> StartForAsync(string upstreamAddress, string routeExtras = "", string upstreamExtras = "", string limits = "") =>
        StartAsync($"""
            {limits}
            [upstreams.backend]
            targets = ["{upstreamAddress}"]
            {upstreamExtras}

            [routes.all]
            path_prefix = "/"
            upstream = "backend"
            {routeExtras}
            """);

    public HttpClient CreateAdminClient() => new(new SocketsHttpHandler { UseProxy = false })
    {
        BaseAddress = AdminUri,
        Timeout = TimeSpan.FromSeconds(60),
    };

    public HttpClient CreateClient() => new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
    {
        BaseAddress = BaseUri,
        Timeout = TimeSpan.FromSeconds(60),
    };

    public RawClient ConnectRaw() => RawClient.Connect(EndPoint);

    /// <summary>
    /// Sends <paramref name="count"/> requests to /0, /1, … from <paramref name="concurrency"/> clients (a POST
    /// carries a small body), and returns each answer's status, the upstream that gave it and its body, in order.
    /// </summary>
    public async Task<Answer[]> SendManyAsync(int count, HttpMethod? method = null, int concurrency = 1)
    {
        var answers = new Answer[count];
        int next = -1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            using HttpClient http = CreateClient();
            int index;
            while ((index = Interlocked.Increment(ref next)) < count)
            {
                using var request = new HttpRequestMessage(method ?? HttpMethod.Get, $"/{index}");
                if (request.Method == HttpMethod.Post)
                {
                    request.Content = new StringContent("payload");
                }

                using HttpResponseMessage response = await http.SendAsync(request);
                answers[index] = new Answer(
                    (int)response.StatusCode,
                    response.Headers.TryGetValues("X-Upstream", out IEnumerable<string>? upstream) ? upstream.Single() : null,
                    await response.Content.ReadAsStringAsync());
            }
        })));
        return answers;
    }

    public async ValueTask DisposeAsync()
    {
        await Host.StopAsync();
        await Host.DisposeAsync();
    }
}

/// <summary>One answer through the gateway: its status, the test upstream that gave it (X-Upstream) and its body.</summary>
public sealed record Answer(int Status, string? Upstream, string Body);
