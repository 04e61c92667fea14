using System.Net;
using System.Net.Http.Headers;
using System.Text;
using HyperGate.Caching;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Hosting;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace HyperGate.FunctionalTests;

/// <summary>The shared cache (RFC 9111) end to end: a scripted upstream that counts what reaches it, and real clients.</summary>
public class CacheTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);

    private static string Date(DateTimeOffset at) => HttpDate.Format(at);

    /// <summary>An upstream answering every request with <paramref name="fields"/> and a body naming the request's number.</summary>
    private static RawUpstream Origin(Func<string, int, string> fields) => new((head, n) =>
    {
        string body = $"response {n}";
        return RawReply.Text($"HTTP/1.1 200 OK\r\n{fields(head, n)}Content-Length: {body.Length}\r\n\r\n{body}");
    });

    private static Task<TestGateway> Gateway(string upstream, string cache = "cache = true", string store = "", FakeTimeProvider? time = null) =>
        TestGateway.StartAsync($"""
            {store}
            [upstreams.origin]
            targets = ["{upstream}"]

            [routes.api]
            path_prefix = "/"
            upstream = "origin"
            {cache}
            """, time is null ? null : new GatewayHostOptions { TimeProvider = time });

    private static async Task<(HttpResponseMessage Response, string Body)> GetAsync(HttpClient client, string path, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        foreach ((string name, string value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        HttpResponseMessage response = await client.SendAsync(request);
        return (response, await response.Content.ReadAsStringAsync());
    }

    private static string CacheStatus(HttpResponseMessage response) => string.Join(",", response.Headers.GetValues("Cache-Status"));

    [Fact]
    public async Task AFreshResponse_IsServedFromTheStore_WithAgeAndCacheStatus()
    {
        await using RawUpstream origin = Origin((_, _) => $"Cache-Control: max-age=60\r\nDate: {Date(DateTimeOffset.UtcNow)}\r\n");
        await using TestGateway gateway = await Gateway(origin.Address);
        using HttpClient client = gateway.CreateClient();

        (HttpResponseMessage first, string firstBody) = await GetAsync(client, "/items/1");
        (HttpResponseMessage second, string secondBody) = await GetAsync(client, "/items/1");

        Assert.Equal("response 1", firstBody);
        Assert.Equal("hypergate; fwd=uri-miss; stored", CacheStatus(first));
        Assert.Equal("response 1", secondBody);
        Assert.StartsWith("hypergate; hit; ttl=", CacheStatus(second));
        Assert.NotNull(second.Headers.Age);
        Assert.Equal(1, origin.RequestCount);
    }

    [Theory]
    [InlineData("Cache-Control: no-store\r\n")]            // RFC 9111 §5.2.2.5
    [InlineData("Cache-Control: private, max-age=60\r\n")] // §5.2.2.7: a shared cache never stores it
    [InlineData("Cache-Control: max-age=60\r\nSet-Cookie: id=1\r\n")] // the route does not store Set-Cookie by default
    [InlineData("Cache-Control: max-age=60\r\nVary: *\r\n")] // §4.1: Vary: * never matches
    public async Task WhatASharedCacheMustNotStore_GoesUpstreamEveryTime(string fields)
    {
        await using RawUpstream origin = Origin((_, _) => fields);
        await using TestGateway gateway = await Gateway(origin.Address);
        using HttpClient client = gateway.CreateClient();

        (HttpResponseMessage first, _) = await GetAsync(client, "/x");
        (_, string body) = await GetAsync(client, "/x");

        Assert.Equal("hypergate; fwd=uri-miss", CacheStatus(first));
        Assert.Equal("response 2", body);
        Assert.Equal(2, origin.RequestCount);
    }

    [Fact]
    public async Task Age_IsTheCorrectedInitialAgePlusResidentTime_AndExpiryNeedsRevalidation()
    {
        var time = new FakeTimeProvider(Start);
        await using RawUpstream origin = Origin((_, _) => $"Cache-Control: max-age=100\r\nAge: 5\r\nDate: {Date(Start)}\r\n");
        await using TestGateway gateway = await Gateway(origin.Address, time: time);
        using HttpClient client = gateway.CreateClient();

        await GetAsync(client, "/a");
        time.Advance(TimeSpan.FromSeconds(30));
        (HttpResponseMessage hit, _) = await GetAsync(client, "/a");

        // §4.2.3: corrected_initial_age = max(apparent_age 0, age_value 5 + response_delay 0) = 5; resident 30.
        Assert.Equal(TimeSpan.FromSeconds(35), hit.Headers.Age);
        Assert.Equal("hypergate; hit; ttl=65", CacheStatus(hit));

        time.Advance(TimeSpan.FromSeconds(70));
        (HttpResponseMessage stale, _) = await GetAsync(client, "/a");
        Assert.Equal("hypergate; fwd=stale; stored", CacheStatus(stale));
        Assert.Equal(2, origin.RequestCount);
    }

    [Fact]
    public async Task AStaleResponse_IsRevalidated_And304RefreshesItsFields()
    {
        var time = new FakeTimeProvider(Start);
        await using var origin = new RawUpstream((head, n) => n == 1
            ? RawReply.Text($"HTTP/1.1 200 OK\r\nCache-Control: max-age=10\r\nETag: \"v1\"\r\nX-Version: one\r\nDate: {Date(Start)}\r\nContent-Length: 4\r\n\r\nbody")
            : RawReply.Text($"HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=10\r\nETag: \"v1\"\r\nX-Version: two\r\nDate: {Date(Start.AddSeconds(20))}\r\n\r\n"));
        await using TestGateway gateway = await Gateway(origin.Address, time: time);
        using HttpClient client = gateway.CreateClient();

        await GetAsync(client, "/doc");
        time.Advance(TimeSpan.FromSeconds(20));
        (HttpResponseMessage revalidated, string body) = await GetAsync(client, "/doc");
        (HttpResponseMessage hit, _) = await GetAsync(client, "/doc");

        // §4.3.1: the stored validator goes upstream; §4.3.4: the 304's fields replace the stored ones.
        Assert.Contains("If-None-Match: \"v1\"", origin.Heads[1]);
        Assert.Equal(HttpStatusCode.OK, revalidated.StatusCode);
        Assert.Equal("body", body);
        Assert.Equal("hypergate; fwd=stale; fwd-status=304", CacheStatus(revalidated));
        Assert.Equal("two", hit.Headers.GetValues("X-Version").Single());
        Assert.StartsWith("hypergate; hit", CacheStatus(hit));
        Assert.Equal(2, origin.RequestCount);
    }

    [Fact]
    public async Task AClientsOwnPrecondition_IsAnsweredFromTheStore()
    {
        DateTimeOffset modified = DateTimeOffset.UtcNow.AddDays(-1);
        await using RawUpstream origin = Origin((_, _) => $"Cache-Control: max-age=60\r\nETag: W/\"7\"\r\nLast-Modified: {Date(modified)}\r\n");
        await using TestGateway gateway = await Gateway(origin.Address);
        using HttpClient client = gateway.CreateClient();
        await GetAsync(client, "/p");

        // RFC 9110 §13.1.2: weak comparison for If-None-Match; §13.1.3: If-Modified-Since when there is no If-None-Match.
        (HttpResponseMessage byTag, string tagBody) = await GetAsync(client, "/p", ("If-None-Match", "\"1\", \"7\""));
        (HttpResponseMessage byDate, _) = await GetAsync(client, "/p", ("If-Modified-Since", Date(modified.AddSeconds(1))));
        (HttpResponseMessage changed, string changedBody) = await GetAsync(client, "/p", ("If-None-Match", "\"8\""));

        Assert.Equal(HttpStatusCode.NotModified, byTag.StatusCode);
        Assert.Equal("", tagBody);
        Assert.Equal("W/\"7\"", byTag.Headers.ETag!.ToString());
        Assert.Equal(HttpStatusCode.NotModified, byDate.StatusCode);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal("response 1", changedBody);
        Assert.Equal(1, origin.RequestCount);
    }

    [Fact]
    public async Task Vary_KeysByTheNormalizedValuesOfTheNamedFields()
    {
        await using RawUpstream origin = Origin((_, _) => "Cache-Control: max-age=60\r\nVary: Accept-Language\r\n");
        await using TestGateway gateway = await Gateway(origin.Address);
        using HttpClient client = gateway.CreateClient();

        (_, string en) = await GetAsync(client, "/v", ("Accept-Language", "en, fr"));
        (_, string fr) = await GetAsync(client, "/v", ("Accept-Language", "fr"));
        (_, string enAgain) = await GetAsync(client, "/v", ("Accept-Language", "en,   fr"));
        (HttpResponseMessage none, _) = await GetAsync(client, "/v");

        Assert.Equal("response 1", en);
        Assert.Equal("response 2", fr);
        Assert.Equal("response 1", enAgain);
        Assert.Equal("hypergate; fwd=vary-miss; stored", CacheStatus(none));
        Assert.Equal(3, origin.RequestCount);
    }

    [Fact]
    public async Task HundredConcurrentMisses_MakeOneUpstreamRequest()
    {
        var release = new ManualResetEventSlim();
        await using var origin = new RawUpstream((_, n) =>
        {
            release.Wait(TimeSpan.FromSeconds(30));
            return RawReply.Text($"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\nresponse {n}");
        });
        await using TestGateway gateway = await Gateway(origin.Address);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 200 }) { BaseAddress = gateway.BaseUri };
        CacheCounters counters = gateway.Host.Runtime.Caches.Current!.Counters;

        Task<string>[] requests = [.. Enumerable.Range(0, 100).Select(_ => client.GetStringAsync("/hot"))];

        // The 99 that came after the first wait for it: released once they are all waiting.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (counters[CacheEvent.Coalesced] < 99 && DateTime.UtcNow < deadline)
        {
            await Task.Yield();
        }

        release.Set();
        string[] bodies = await Task.WhenAll(requests);

        Assert.All(bodies, body => Assert.Equal("response 1", body));
        Assert.Equal(1, origin.RequestCount);
        Assert.Equal(99, counters[CacheEvent.Coalesced]);
    }

    [Fact]
    public async Task CoalescedRequests_StreamTheResponseAsItArrives()
    {
        var rest = new TaskCompletionSource<byte[]>();
        await using var origin = new RawUpstream((_, _) =>
            RawReply.Text("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\nfirst") with { Later = () => rest.Task });
        await using TestGateway gateway = await Gateway(origin.Address, store: "[cache]\ncoalesce_timeout = \"1h\"");
        using HttpClient leaderClient = gateway.CreateClient(), waiterClient = gateway.CreateClient();

        using HttpResponseMessage leader = await leaderClient.GetAsync("/stream", HttpCompletionOption.ResponseHeadersRead);
        using HttpResponseMessage waiter = await waiterClient.GetAsync("/stream", HttpCompletionOption.ResponseHeadersRead).WaitAsync(TimeSpan.FromSeconds(30));
        Stream waiterBody = await waiter.Content.ReadAsStreamAsync();
        var firstPart = new byte[5];
        await waiterBody.ReadExactlyAsync(firstPart);

        // The waiter has its head and the first part while the origin still holds the rest back.
        Assert.False(rest.Task.IsCompleted);
        Assert.Equal("first", Encoding.ASCII.GetString(firstPart));
        Assert.StartsWith("hypergate; hit; collapsed; ttl=", CacheStatus(waiter));
        rest.SetResult("ABCDE"u8.ToArray());
        Assert.Equal("ABCDE", await new StreamReader(waiterBody).ReadToEndAsync());
        Assert.Equal("firstABCDE", await leader.Content.ReadAsStringAsync());
        Assert.Equal(1, origin.RequestCount);
        Assert.Equal("firstABCDE", (await GetAsync(leaderClient, "/stream")).Body);
    }

    [Fact]
    public async Task AStreamedResponseCutShort_IsCutShortForItsWaitersToo_AndNotStored()
    {
        var cut = new TaskCompletionSource<byte[]>();
        await using var origin = new RawUpstream((_, n) => n == 1
            ? RawReply.Text("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\nfirst", close: true) with { Later = () => cut.Task }
            : RawReply.Text("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\nwhole body"));
        await using TestGateway gateway = await Gateway(origin.Address, store: "[cache]\ncoalesce_timeout = \"1h\"");
        using HttpClient leaderClient = gateway.CreateClient(), waiterClient = gateway.CreateClient();

        using HttpResponseMessage leader = await leaderClient.GetAsync("/cut", HttpCompletionOption.ResponseHeadersRead);
        using HttpResponseMessage waiter = await waiterClient.GetAsync("/cut", HttpCompletionOption.ResponseHeadersRead).WaitAsync(TimeSpan.FromSeconds(30));
        Stream waiterBody = await waiter.Content.ReadAsStreamAsync();
        await waiterBody.ReadExactlyAsync(new byte[5]);
        cut.SetResult([]);

        // RFC 9112 §6.3: fewer bytes than Content-Length, then a close, is how a client learns the body is incomplete.
        await Assert.ThrowsAnyAsync<IOException>(() => new StreamReader(waiterBody).ReadToEndAsync());
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => leader.Content.ReadAsStringAsync());
        (HttpResponseMessage next, string body) = await GetAsync(leaderClient, "/cut");
        Assert.Equal("whole body", body);
        Assert.StartsWith("hypergate; fwd=uri-miss; stored", CacheStatus(next));
    }

    [Fact]
    public async Task AnUncacheableResponse_ReleasesTheWaitersAtOnce()
    {
        var release = new ManualResetEventSlim();
        await using var origin = new RawUpstream((_, n) =>
        {
            release.Wait(TimeSpan.FromSeconds(30));
            return RawReply.Text($"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 10\r\n\r\nresponse {n}");
        });
        await using TestGateway gateway = await Gateway(origin.Address, store: "[cache]\ncoalesce_timeout = \"1h\"");
        using HttpClient client = gateway.CreateClient();
        CacheCounters counters = gateway.Host.Runtime.Caches.Current!.Counters;

        Task<string> first = client.GetStringAsync("/private");
        Task<string> second = client.GetStringAsync("/private");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (counters[CacheEvent.Coalesced] < 1 && DateTime.UtcNow < deadline)
        {
            await Task.Yield();
        }

        release.Set();

        // With an hour's coalesce_timeout, the second finishes only because the no-store head released it.
        Assert.NotEqual(await first, await second);
        Assert.Equal(2, origin.RequestCount);
    }

    [Fact]
    public async Task ASuccessfulUnsafeMethod_InvalidatesTheUriAndItsSameOriginLocation()
    {
        await using var origin = new RawUpstream((head, n) => head.StartsWith("POST", StringComparison.Ordinal)
            ? RawReply.Text("HTTP/1.1 201 Created\r\nLocation: /items/2\r\nContent-Location: http://elsewhere.test/items/3\r\nContent-Length: 0\r\n\r\n")
            : RawReply.Text($"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\nresponse {n % 10}"));
        await using TestGateway gateway = await Gateway(origin.Address);
        using HttpClient client = gateway.CreateClient();
        foreach (string path in (string[])["/items", "/items/2", "/items/3"])
        {
            await GetAsync(client, path);
        }

        HttpResponseMessage created = await client.PostAsync("/items", new StringContent(""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        int before = origin.RequestCount;

        (HttpResponseMessage list, _) = await GetAsync(client, "/items");
        (HttpResponseMessage item, _) = await GetAsync(client, "/items/2");
        (HttpResponseMessage other, _) = await GetAsync(client, "/items/3");

        // RFC 9111 §4.4: the target and a same-origin Location go; another origin's Content-Location does not.
        Assert.StartsWith("hypergate; fwd=uri-miss", CacheStatus(list));
        Assert.StartsWith("hypergate; fwd=uri-miss", CacheStatus(item));
        Assert.StartsWith("hypergate; hit", CacheStatus(other));
        Assert.Equal(before + 2, origin.RequestCount);
    }

    [Fact]
    public async Task Head_IsAnsweredFromAStoredGet()
    {
        await using RawUpstream origin = Origin((_, _) => "Cache-Control: max-age=60\r\n");
        await using TestGateway gateway = await Gateway(origin.Address);
        using RawClient raw = gateway.ConnectRaw();
        using HttpClient client = gateway.CreateClient();
        await GetAsync(client, "/h");

        await raw.SendAsync($"HEAD /h HTTP/1.1\r\nHost: {gateway.EndPoint}\r\n\r\n");
        RawResponse head = await raw.ReadResponseAsync(headRequest: true);

        Assert.Equal(200, head.Status);
        Assert.Equal("10", head.Header("Content-Length"));
        Assert.StartsWith("hypergate; hit", head.Header("Cache-Status"));
        Assert.Equal(1, origin.RequestCount);
    }

    [Fact]
    public async Task RequestDirectives_AreHonoured()
    {
        var time = new FakeTimeProvider(Start);
        await using RawUpstream origin = Origin((_, _) => $"Cache-Control: max-age=10\r\nDate: {Date(Start)}\r\n");
        await using TestGateway gateway = await Gateway(origin.Address, time: time);
        using HttpClient client = gateway.CreateClient();

        (HttpResponseMessage onlyIfCached, _) = await GetAsync(client, "/d", ("Cache-Control", "only-if-cached"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, onlyIfCached.StatusCode); // §5.2.1.7
        await GetAsync(client, "/d");
        time.Advance(TimeSpan.FromSeconds(5));

        (HttpResponseMessage maxAge, _) = await GetAsync(client, "/d", ("Cache-Control", "max-age=2"));   // §5.2.1.1
        Assert.StartsWith("hypergate; fwd=request", CacheStatus(maxAge));
        time.Advance(TimeSpan.FromSeconds(5));
        (HttpResponseMessage minFresh, _) = await GetAsync(client, "/d", ("Cache-Control", "min-fresh=8")); // §5.2.1.3
        Assert.StartsWith("hypergate; fwd=request", CacheStatus(minFresh));
        (HttpResponseMessage noCache, _) = await GetAsync(client, "/d", ("Cache-Control", "no-cache"));    // §5.2.1.4
        Assert.StartsWith("hypergate; fwd=request", CacheStatus(noCache));

        time.Advance(TimeSpan.FromSeconds(15));
        (HttpResponseMessage maxStale, _) = await GetAsync(client, "/d", ("Cache-Control", "max-stale=30")); // §5.2.1.2
        Assert.StartsWith("hypergate; hit; detail=stale", CacheStatus(maxStale));
        Assert.Equal(4, origin.RequestCount);
    }

    [Fact]
    public async Task StaleIfError_ServesTheStoredResponse_WhenTheOriginFails()
    {
        var time = new FakeTimeProvider(Start);
        await using var origin = new RawUpstream((_, n) => n == 1
            ? RawReply.Text($"HTTP/1.1 200 OK\r\nCache-Control: max-age=10, stale-if-error=60\r\nDate: {Date(Start)}\r\nContent-Length: 4\r\n\r\ngood")
            : RawReply.Text("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown"));
        await using TestGateway gateway = await Gateway(origin.Address, time: time);
        using HttpClient client = gateway.CreateClient();

        await GetAsync(client, "/s");
        time.Advance(TimeSpan.FromSeconds(30));
        (HttpResponseMessage withinWindow, string body) = await GetAsync(client, "/s");
        time.Advance(TimeSpan.FromSeconds(60));
        (HttpResponseMessage beyond, _) = await GetAsync(client, "/s");

        // RFC 5861 §4: within 60 s of staleness the stored response stands in for the error; beyond it, the error.
        Assert.Equal(HttpStatusCode.OK, withinWindow.StatusCode);
        Assert.Equal("good", body);
        Assert.StartsWith("hypergate; fwd=stale; detail=stale-if-error", CacheStatus(withinWindow));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, beyond.StatusCode);
    }

    [Fact]
    public async Task AnAuthenticatedRequest_IsStoredOnlyWhenTheOriginSharesIt()
    {
        await using RawUpstream origin = Origin((head, _) => head.Contains("/shared", StringComparison.Ordinal) ? "Cache-Control: public, max-age=60\r\n" : "Cache-Control: max-age=60\r\n");
        await using TestGateway gateway = await Gateway(origin.Address);
        using HttpClient client = gateway.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "token");

        await GetAsync(client, "/mine");
        await GetAsync(client, "/mine");
        await GetAsync(client, "/shared");
        (HttpResponseMessage shared, _) = await GetAsync(client, "/shared");

        // RFC 9111 §3.5.
        Assert.StartsWith("hypergate; hit", CacheStatus(shared));
        Assert.Equal(3, origin.RequestCount);
    }

    [Fact]
    public async Task TheKey_IsTheNormalizedPath_AndTheSortedQueryWithoutIgnoredParameters()
    {
        await using RawUpstream origin = Origin((_, _) => "Cache-Control: max-age=60\r\n");
        await using TestGateway gateway = await Gateway(origin.Address, cache: "cache = { sort_query = true, ignore_query = [\"utm_source\"] }");
        using HttpClient client = gateway.CreateClient();
        using RawClient raw = gateway.ConnectRaw();

        await GetAsync(client, "/k/a?b=2&a=1");
        (HttpResponseMessage sorted, _) = await GetAsync(client, "/k/a?a=1&b=2&utm_source=mail");
        await raw.SendAsync($"GET /k/./x/../a?a=1&b=2 HTTP/1.1\r\nHost: {gateway.EndPoint}\r\n\r\n");
        RawResponse dotted = await raw.ReadResponseAsync();
        (HttpResponseMessage other, _) = await GetAsync(client, "/k/a?a=1&b=3");

        Assert.StartsWith("hypergate; hit", CacheStatus(sorted));
        Assert.StartsWith("hypergate; hit", dotted.Header("Cache-Status"));
        Assert.StartsWith("hypergate; fwd=uri-miss", CacheStatus(other));
        Assert.Equal(2, origin.RequestCount);
    }

    [Fact]
    public async Task Purges_ByUrlPrefixAndTag_SayHowManyWent_AndTagFieldsStayHere()
    {
        await using RawUpstream origin = Origin((head, _) => "Cache-Control: max-age=60\r\n" + (head.Contains("/products/", StringComparison.Ordinal) ? "Surrogate-Key: catalog\r\n" : ""));
        await using TestGateway gateway = await Gateway(origin.Address, cache: "cache = { sort_query = true }", store: "[admin]\nlisten = \"127.0.0.1:0\"");
        using HttpClient client = gateway.CreateClient();
        using HttpClient admin = gateway.CreateAdminClient();
        (HttpResponseMessage tagged, _) = await GetAsync(client, "/products/1");
        foreach (string path in (string[])["/products/2", "/users/1?b=2&a=1", "/users/2", "/other"])
        {
            await GetAsync(client, path);
        }

        async Task<int> PurgeAsync(string query)
        {
            HttpResponseMessage response = await admin.PostAsync($"/cache/purge?{query}", null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("purged").GetInt32();
        }

        Assert.False(tagged.Headers.Contains("Surrogate-Key"));
        Assert.Equal(1, await PurgeAsync("url=" + Uri.EscapeDataString($"http://{gateway.EndPoint}/users/1?a=1&b=2")));
        Assert.Equal(1, await PurgeAsync("prefix=" + Uri.EscapeDataString("/users/")));
        Assert.Equal(2, await PurgeAsync("tag=catalog"));
        Assert.Equal(0, await PurgeAsync("tag=catalog"));
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync("/cache/purge", null)).StatusCode);

        (HttpResponseMessage kept, _) = await GetAsync(client, "/other");
        (HttpResponseMessage purged, _) = await GetAsync(client, "/products/1");
        Assert.StartsWith("hypergate; hit", CacheStatus(kept));
        Assert.StartsWith("hypergate; fwd=uri-miss", CacheStatus(purged));
    }

    [Fact]
    public async Task Metrics_CountHitsMissesAndTheStore_AndExplainSaysHowTheRouteCaches()
    {
        await using RawUpstream origin = Origin((_, _) => "Cache-Control: max-age=60\r\n");
        await using TestGateway gateway = await Gateway(origin.Address, store: "[admin]\nlisten = \"127.0.0.1:0\"");
        using HttpClient client = gateway.CreateClient();
        await GetAsync(client, "/m");
        await GetAsync(client, "/m");
        await GetAsync(client, "/m");

        using HttpClient admin = gateway.CreateAdminClient();
        string metrics = await admin.GetStringAsync("/metrics");
        Assert.Equal(2, PrometheusText.Value(metrics, "hypergate_cache_lookups_total", ("route", "api"), ("result", "hit")));
        Assert.Equal(1, PrometheusText.Value(metrics, "hypergate_cache_lookups_total", ("route", "api"), ("result", "miss")));
        Assert.Equal(1, PrometheusText.Value(metrics, "hypergate_cache_events_total", ("kind", "stored")));
        Assert.Equal(1, PrometheusText.Value(metrics, "hypergate_cache_objects"));
        Assert.InRange(PrometheusText.Value(metrics, "hypergate_cache_bytes"), 10, 4096);

        string explained = await admin.GetStringAsync("/explain?path=/m");
        Assert.Contains("cache: GET and HEAD answered from the store", explained);
    }

    [Fact]
    public async Task AReload_KeepsTheStore_WhenCacheDidNotChange()
    {
        await using RawUpstream origin = Origin((_, _) => "Cache-Control: max-age=60\r\n");
        string directory = Directory.CreateTempSubdirectory().FullName;
        string path = Path.Combine(directory, "gateway.toml");
        string Config(string extra) => TestGateway.WithServer($"""
            [admin]
            listen = "127.0.0.1:0"
            [upstreams.origin]
            targets = ["{origin.Address}"]
            [routes.api]
            path_prefix = "/"
            upstream = "origin"
            cache = true
            {extra}
            """);
        File.WriteAllText(path, Config(""));
        await using TestGateway gateway = await TestGateway.StartFromFileAsync(path);
        using HttpClient client = gateway.CreateClient();
        using HttpClient admin = gateway.CreateAdminClient();
        await GetAsync(client, "/r");

        File.WriteAllText(path, Config("priority = 1"));
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/reload", null)).StatusCode);
        (HttpResponseMessage afterReload, _) = await GetAsync(client, "/r");

        File.WriteAllText(path, Config("priority = 2\n[cache]\nmax_size = \"32MB\""));
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/reload", null)).StatusCode);
        (HttpResponseMessage newStore, _) = await GetAsync(client, "/r");

        Assert.StartsWith("hypergate; hit", CacheStatus(afterReload));
        Assert.StartsWith("hypergate; fwd=uri-miss", CacheStatus(newStore));
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task StaleWhileRevalidate_ServesStaleAtOnce_AndRefreshesExactlyOnce()
    {
        var time = new FakeTimeProvider(Start);
        var refreshing = new ManualResetEventSlim();
        await using var origin = new RawUpstream((_, n) =>
        {
            if (n == 2)
            {
                // The refresh waits here while more stale requests arrive: they must not start another.
                refreshing.Wait(TimeSpan.FromSeconds(30));
            }

            string body = $"response {n}";
            return RawReply.Text($"HTTP/1.1 200 OK\r\nCache-Control: max-age=10, stale-while-revalidate=60\r\nDate: {Date(time.GetUtcNow())}\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        });
        await using TestGateway gateway = await Gateway(origin.Address, time: time);
        using HttpClient client = gateway.CreateClient();
        CacheCounters counters = gateway.Host.Runtime.Caches.Current!.Counters;
        await GetAsync(client, "/swr");
        time.Advance(TimeSpan.FromSeconds(30));

        var stale = new List<(HttpResponseMessage, string)>();
        for (int i = 0; i < 5; i++)
        {
            stale.Add(await GetAsync(client, "/swr"));
        }

        refreshing.Set();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (counters[CacheEvent.Refreshed] < 1 && DateTime.UtcNow < deadline)
        {
            await Task.Yield();
        }

        (HttpResponseMessage refreshed, string body) = await GetAsync(client, "/swr");

        // RFC 5861 §3: within the window every request is answered stale at once; one refresh goes upstream.
        Assert.All(stale, s => Assert.Equal("response 1", s.Item2));
        Assert.All(stale, s => Assert.Equal("hypergate; hit; detail=stale-while-revalidate; ttl=-20", CacheStatus(s.Item1)));
        Assert.Equal("response 2", body);
        Assert.StartsWith("hypergate; hit; ttl=", CacheStatus(refreshed));
        Assert.Equal(2, origin.RequestCount);
    }

    [Theory]
    [InlineData("Cache-Control: max-age=60\r\n", "cache = true", false)]                        // not shared by the origin: per consumer
    [InlineData("Cache-Control: public, max-age=60\r\n", "cache = true", true)]                 // public: one copy for everyone
    [InlineData("Cache-Control: public, max-age=60\r\n", "cache = { key_consumer = true }", false)] // keyed by consumer anyway
    public async Task AResponseFetchedForOneConsumer_ServesAnotherOnlyWhenShared(string fields, string cache, bool shared)
    {
        await using RawUpstream origin = Origin((_, _) => fields);
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [consumers.alpha]
            api_keys = ["{{HyperGate.Security.CredentialHashes.HashKey("alpha-key")}}"]
            [consumers.beta]
            api_keys = ["{{HyperGate.Security.CredentialHashes.HashKey("beta-key")}}"]
            [auth.keys]
            type = "api_key"
            [upstreams.origin]
            targets = ["{{origin.Address}}"]
            [routes.api]
            path_prefix = "/"
            upstream = "origin"
            auth = ["keys"]
            {{cache}}
            """);
        using HttpClient client = gateway.CreateClient();

        (_, string alpha) = await GetAsync(client, "/me", ("X-Api-Key", "alpha-key"));
        (_, string alphaAgain) = await GetAsync(client, "/me", ("X-Api-Key", "alpha-key"));
        (_, string beta) = await GetAsync(client, "/me", ("X-Api-Key", "beta-key"));
        (HttpResponseMessage anonymous, _) = await GetAsync(client, "/me");

        Assert.Equal("response 1", alpha);
        Assert.Equal("response 1", alphaAgain);
        Assert.Equal(shared ? "response 1" : "response 2", beta);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode); // authentication runs before the lookup
        Assert.Equal(shared ? 1 : 2, origin.RequestCount);
    }
}
