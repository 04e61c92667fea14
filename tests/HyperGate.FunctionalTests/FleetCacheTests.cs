using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using HyperGate.Caching;
using HyperGate.Caching.Fleet;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Hosting;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Xunit;

namespace HyperGate.FunctionalTests;

/// <summary>The cache's fleet tier: instances sharing a real Redis, through purges, a Redis that stalls and one that is not there.</summary>
public class FleetCacheTests
{
    // Both instances are asked for the same URL, so that they share its key whatever port each listens on.
    private const string Host = "api.test";

    private static RawUpstream Origin(string fields = "Cache-Control: max-age=60\r\n") => new((head, n) =>
    {
        string body = $"response {n}";
        string tags = head.Contains("/products/", StringComparison.Ordinal) ? "Surrogate-Key: catalog\r\n" : "";
        return RawReply.Text($"HTTP/1.1 200 OK\r\n{fields}{tags}Content-Length: {body.Length}\r\n\r\n{body}");
    });

    private static async Task<TestGateway> GatewayAsync(string redis, string upstream, string redisTimeout = "50ms", FakeTimeProvider? time = null)
    {
        TestGateway gateway = await TestGateway.StartAsync($"""
            [admin]
            listen = "127.0.0.1:0"

            [cache]
            redis = "{redis}"
            redis_timeout = "{redisTimeout}"

            [upstreams.origin]
            targets = ["{upstream}"]

            [routes.api]
            path_prefix = "/"
            upstream = "origin"
            cache = true
            """, time is null ? null : new GatewayHostOptions { TimeProvider = time });
        await UntilAsync(() => Fleet(gateway).IsAvailable);
        return gateway;
    }

    private static FleetTier Fleet(TestGateway gateway) => gateway.Host.Runtime.Caches.CurrentFleet!;

    private static CacheCounters Counters(TestGateway gateway) => gateway.Host.Runtime.Caches.Current!.Counters;

    /// <summary>Waits for an event another process or thread makes happen (a Redis reply, a published purge).</summary>
    private static async Task UntilAsync(Func<bool> condition)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Yield();
        }

        Assert.True(condition(), "the awaited event did not happen");
    }

    private static async Task<(string Status, string Body)> GetAsync(HttpClient client, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Host = Host;
        using HttpResponseMessage response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (string.Join(",", response.Headers.GetValues("Cache-Status")), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TwoInstances_FetchAnObjectFromTheOriginOnce()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using RawUpstream origin = Origin();
        await using TestGateway first = await GatewayAsync(redis.Configuration, origin.Address);
        await using TestGateway second = await GatewayAsync(redis.Configuration, origin.Address);
        using HttpClient a = first.CreateClient(), b = second.CreateClient();

        (string stored, _) = await GetAsync(a, "/items/1");
        await UntilAsync(() => Counters(first)[CacheEvent.FleetWritten] == 1);
        (string shared, string body) = await GetAsync(b, "/items/1");
        (string local, _) = await GetAsync(b, "/items/1");

        Assert.Equal("hypergate; fwd=uri-miss; stored", stored);
        Assert.StartsWith("hypergate; hit; detail=fleet; ttl=", shared);
        Assert.Equal("response 1", body);
        Assert.StartsWith("hypergate; hit; ttl=", local);
        Assert.Equal(1, origin.RequestCount);
        Assert.Equal(1, Counters(second)[CacheEvent.FleetHit]);
    }

    [Theory]
    [InlineData("url=http%3A%2F%2Fapi.test%2Fproducts%2F1")]
    [InlineData("prefix=%2Fproducts%2F")]
    [InlineData("tag=catalog")]
    public async Task APurge_ReachesRedisAndEveryInstance(string purge)
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using RawUpstream origin = Origin();
        await using TestGateway first = await GatewayAsync(redis.Configuration, origin.Address);
        await using TestGateway second = await GatewayAsync(redis.Configuration, origin.Address);
        using HttpClient a = first.CreateClient(), b = second.CreateClient(), admin = first.CreateAdminClient();
        await GetAsync(a, "/products/1");
        await UntilAsync(() => Counters(first)[CacheEvent.FleetWritten] == 1);
        await GetAsync(b, "/products/1");

        HttpResponseMessage purged = await admin.PostAsync($"/cache/purge?{purge}", null);
        JsonElement answer = JsonDocument.Parse(await purged.Content.ReadAsStringAsync()).RootElement;
        await UntilAsync(() => Counters(second)[CacheEvent.FleetPurgeReceived] == 1);
        (string again, string body) = await GetAsync(b, "/products/1");

        Assert.Equal(1, answer.GetProperty("purged").GetInt32());
        Assert.Equal(1, answer.GetProperty("fleet_purged").GetInt32());
        Assert.Equal("hypergate; fwd=uri-miss; stored", again);
        Assert.Equal("response 2", body);
    }

    [Fact]
    public async Task AnUnsafeMethod_InvalidatesTheUriOnEveryInstance()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using var origin = new RawUpstream((head, n) => head.StartsWith("DELETE", StringComparison.Ordinal)
            ? RawReply.Text("HTTP/1.1 204 No Content\r\n\r\n")
            : RawReply.Text($"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\nresponse {n % 10}"));
        await using TestGateway first = await GatewayAsync(redis.Configuration, origin.Address);
        await using TestGateway second = await GatewayAsync(redis.Configuration, origin.Address);
        using HttpClient a = first.CreateClient(), b = second.CreateClient();
        await GetAsync(a, "/items/1");
        await UntilAsync(() => Counters(first)[CacheEvent.FleetWritten] == 1);
        await GetAsync(b, "/items/1");

        using var delete = new HttpRequestMessage(HttpMethod.Delete, "/items/1");
        delete.Headers.Host = Host;
        Assert.Equal(HttpStatusCode.NoContent, (await a.SendAsync(delete)).StatusCode);
        await UntilAsync(() => Counters(second)[CacheEvent.FleetPurgeReceived] == 1);
        (string again, _) = await GetAsync(b, "/items/1");

        // RFC 9111 §4.4 on the instance that saw the DELETE, and through Redis on the other one.
        Assert.Equal("hypergate; fwd=uri-miss; stored", again);
        Assert.Equal(3, origin.RequestCount);
    }

    [Fact]
    public async Task AStalledRedis_NeverSlowsAHit_AndHoldsAMissOnlyForTheTimeout()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using RedisServer redis = await RedisServer.StartAsync();
        await using RawUpstream origin = Origin();
        await using TestGateway gateway = await GatewayAsync(redis.Configuration, origin.Address, time: time);
        using HttpClient client = gateway.CreateClient();
        await GetAsync(client, "/kept");
        await UntilAsync(() => Counters(gateway)[CacheEvent.FleetWritten] == 1);

        // Redis holds every command from now until the test ends (the server is killed then).
        await using (ConnectionMultiplexer control = await ConnectionMultiplexer.ConnectAsync(redis.Configuration))
        {
            await control.GetServer(control.GetEndPoints()[0]).ExecuteAsync("CLIENT", "PAUSE", "600000", "ALL");
        }

        (string hit, string body) = await GetAsync(client, "/kept");
        Assert.StartsWith("hypergate; hit; ttl=", hit);
        Assert.Equal("response 1", body);

        // The miss waits on Redis until redis_timeout passes on the gateway's clock, then goes to the origin.
        Task<(string Status, string Body)> miss = GetAsync(client, "/new");
        while (!miss.IsCompleted && Counters(gateway)[CacheEvent.FleetTimeout] == 0)
        {
            time.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Yield();
        }

        (string forwarded, string fresh) = await miss;
        Assert.Equal("hypergate; fwd=uri-miss; stored", forwarded);
        Assert.Equal("response 2", fresh);
        Assert.Equal(1, Counters(gateway)[CacheEvent.FleetTimeout]);
    }

    [Fact]
    public async Task AnAbsentRedis_NeitherDelaysNorFailsARequest()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using RawUpstream origin = Origin();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [cache]
            redis = "127.0.0.1:{closedPort}"
            redis_timeout = "1s"

            [upstreams.origin]
            targets = ["{origin.Address}"]

            [routes.api]
            path_prefix = "/"
            upstream = "origin"
            cache = true
            """);
        using HttpClient client = gateway.CreateClient();

        (string miss, _) = await GetAsync(client, "/x");
        (string hit, _) = await GetAsync(client, "/x");

        // Never connected, the tier is not asked: no lookup waited, and none failed the request.
        Assert.False(Fleet(gateway).IsAvailable);
        Assert.Equal("hypergate; fwd=uri-miss; stored", miss);
        Assert.StartsWith("hypergate; hit", hit);
        CacheCounters counters = Counters(gateway);
        Assert.Equal(0, counters[CacheEvent.FleetHit] + counters[CacheEvent.FleetMiss] + counters[CacheEvent.FleetTimeout] + counters[CacheEvent.FleetError]);
    }
}
