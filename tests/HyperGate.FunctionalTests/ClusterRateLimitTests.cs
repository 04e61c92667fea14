using System.Net;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>Two gateway instances sharing one limit through a real Redis, through an outage and back.</summary>
public class ClusterRateLimitTests
{
    private const int Rate = 20;
    private const int Batch = 2;
    private const int Gateways = 2;

    // Configured as 4 instances so the "local" fallback (rate / instances = 5 per gateway) differs from the shared limit.
    private const int ConfiguredInstances = 4;

    private static string Config(string redis, string upstream, string algorithm) => $"""
        [cluster]
        redis = "{redis}"
        instances = {ConfiguredInstances}

        [rate_limits.shared]
        key = "header:x-tenant"
        algorithm = "{algorithm}"
        rate = {Rate}
        per = "1h"
        scope = "cluster"
        batch = {Batch}
        on_store_failure = "local"

        [upstreams.backend]
        targets = ["{upstream}"]

        [routes.all]
        path_prefix = "/"
        upstream = "backend"
        rate_limit = ["shared"]
        """;

    /// <summary>
    /// Drives both gateways, concurrently, at five times the limit, twice over (a request that finds its stash
    /// empty while a lease is on its way is refused, so the second pass uses what late leases brought);
    /// returns how many were admitted.
    /// </summary>
    private static async Task<int> DriveAsync(HttpClient[] clients, string tenant)
    {
        int admitted = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            int[] counts = await Task.WhenAll(clients.Select(async client =>
            {
                int ok = 0;
                for (int i = 0; i < Rate * 5 / clients.Length; i++)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, "/");
                    request.Headers.Add("X-Tenant", tenant);
                    using HttpResponseMessage response = await client.SendAsync(request);
                    Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{response.StatusCode}");
                    ok += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
                }

                return ok;
            }));
            admitted += counts.Sum();
        }

        return admitted;
    }

    [Theory]
    [InlineData("token_bucket")]
    [InlineData("sliding_window")]
    public async Task TwoInstances_ShareTheLimit_FallBackDuringAnOutage_AndShareAgainAfterIt(string algorithm)
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway first = await TestGateway.StartAsync(Config(redis.Configuration, upstream.Address, algorithm));
        await using TestGateway second = await TestGateway.StartAsync(Config(redis.Configuration, upstream.Address, algorithm));
        using HttpClient a = first.CreateClient(), b = second.CreateClient();
        HttpClient[] clients = [a, b];

        // Shared: the bound is rate (no refill within the test's hour) plus instances x batch. A lease still in
        // flight when the drive ends can leave up to a batch per instance unused, hence the lower end.
        int shared = await DriveAsync(clients, "blue");
        Assert.InRange(shared, Rate - Gateways * Batch, Rate + Gateways * Batch);

        // Outage: a new tenant's first lease fails, and each gateway keeps rate / instances on its own, plus
        // what it admitted on the new key's credit (at most a batch) before the failed lease came back.
        await redis.StopAsync();
        int duringOutage = await DriveAsync(clients, "green");
        Assert.False(first.Host.Runtime.RateLimits.StoreAvailable);
        Assert.False(second.Host.Runtime.RateLimits.StoreAvailable);
        int localShare = Rate / ConfiguredInstances;
        Assert.InRange(duringOutage, Gateways * localShare, Gateways * (localShare + Batch));

        // Recovery is automatic: the probe finds Redis back, and limits are shared again.
        await redis.StartAgainAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await first.Host.Runtime.RateLimits.StoreAvailableAsync.WaitAsync(timeout.Token);
        await second.Host.Runtime.RateLimits.StoreAvailableAsync.WaitAsync(timeout.Token);
        int afterRecovery = await DriveAsync(clients, "red");
        Assert.InRange(afterRecovery, Rate - Gateways * Batch, Rate + Gateways * Batch);
    }
}
