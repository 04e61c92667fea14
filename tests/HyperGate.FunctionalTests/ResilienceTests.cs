using System.Net;
using System.Net.Sockets;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.FunctionalTests;

/// <summary>Retries, the retry budget, the route deadline, the circuit breaker with its fallbacks, upstream caps and splits.</summary>
public class ResilienceTests
{
    private static string Config(string targets, string routeExtras, string upstreamExtras = "", string more = "") => $"""
        [upstreams.backend]
        targets = [{targets}]
        balance = "round_robin"
        {upstreamExtras}

        {more}

        [routes.all]
        path_prefix = "/"
        upstream = "backend"
        {routeExtras}
        """;

    private static async Task<List<(int Status, string Body)>> SendAsync(TestGateway gateway, int count, HttpMethod? method = null) =>
        [.. (await gateway.SendManyAsync(count, method)).Select(answer => (answer.Status, answer.Body))];

    [Fact]
    public async Task AGetAnswered503_IsRetriedOnAnotherDestination()
    {
        await using TestUpstream failing = await TestUpstream.StartAsync("failing");
        await using TestUpstream working = await TestUpstream.StartAsync("working");
        failing.FailStatus = 503;
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{failing.Address}\", \"{working.Address}\"", "retries = { attempts = 1, on = [503], budget_percent = 100 }"));

        var results = await SendAsync(gateway, 10);

        Assert.All(results, r => Assert.Equal(200, r.Status));
        Assert.True(failing.RequestCount >= 5, $"the failing destination saw {failing.RequestCount}");
        Assert.Equal(10, working.RequestCount);
    }

    [Fact]
    public async Task APost_IsNeverRetried()
    {
        await using TestUpstream failing = await TestUpstream.StartAsync("failing");
        await using TestUpstream working = await TestUpstream.StartAsync("working");
        failing.FailStatus = 503;
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{failing.Address}\", \"{working.Address}\"", "retries = { attempts = 2, on = [503, \"reset\", \"connect_failure\"], budget_percent = 100 }"));

        var results = await SendAsync(gateway, 10, HttpMethod.Post);

        Assert.Equal(10, failing.RequestCount + working.RequestCount);
        Assert.Equal(failing.RequestCount, results.Count(r => r.Status == 503));
        Assert.True(failing.RequestCount >= 5);
    }

    [Fact]
    public async Task ARefusedConnection_IsRetriedOnAnotherDestination()
    {
        await using TestUpstream working = await TestUpstream.StartAsync("working");
        using ClosedPort closed = TestPorts.Closed();
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{closed.Address}\", \"{working.Address}\"", "retries = { attempts = 1, on = [\"connect_failure\"], budget_percent = 100 }"));

        var results = await SendAsync(gateway, 10);

        Assert.All(results, r => Assert.Equal(200, r.Status));
    }

    [Fact]
    public async Task TheRetryBudget_CapsRetries()
    {
        await using TestUpstream failing = await TestUpstream.StartAsync("failing");
        await using TestUpstream working = await TestUpstream.StartAsync("working");
        failing.FailStatus = 503;
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{failing.Address}\", \"{working.Address}\"", "retries = { attempts = 1, on = [503], budget_percent = 0 }"));

        var results = await SendAsync(gateway, 10);

        // With a budget of 0% only the few retries every route may make (3) happen; the other failures stand.
        Assert.True(failing.RequestCount > 3, $"the failing destination saw {failing.RequestCount}");
        Assert.Equal(failing.RequestCount - 3, results.Count(r => r.Status == 503));
    }

    [Fact]
    public async Task TheRouteDeadline_EndsTheWaitAcrossRetries_With504()
    {
        await using TestUpstream slow = await TestUpstream.StartAsync("slow");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using TestGateway gateway = await TestGateway.StartAsync(
            Config($"\"{slow.Address}\"", "timeout = \"5s\"\nretries = { attempts = 3, on = [\"timeout\"] }", "response_timeout = \"60s\""),
            new GatewayHostOptions { TimeProvider = time });
        using RawClient client = gateway.ConnectRaw();
        await client.SendAsync("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
        await slow.SlowEntered.Task.WaitAsync(TimeSpan.FromSeconds(30));

        time.Advance(TimeSpan.FromSeconds(5));

        RawResponse response = await client.ReadResponseAsync();
        Assert.Equal(504, response.Status);
        Assert.Equal(1, slow.RequestCount);
    }

    [Fact]
    public async Task AnOpenCircuit_IsAnsweredByTheFallback_UntilATrialSucceeds()
    {
        await using TestUpstream failing = await TestUpstream.StartAsync("failing");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        failing.FailStatus = 503;
        await using TestGateway gateway = await TestGateway.StartAsync(
            Config(
                $"\"{failing.Address}\"",
                "fallback = { status = 200, body = \"fallback\" }",
                "circuit_breaker = { failure_ratio = 0.5, min_requests = 4, window = \"10s\", open_for = \"30s\", half_open_requests = 1 }"),
            new GatewayHostOptions { TimeProvider = time });

        Assert.All(await SendAsync(gateway, 4), r => Assert.Equal(503, r.Status));
        Assert.All(await SendAsync(gateway, 5), r => Assert.Equal((200, "fallback"), r));
        Assert.Equal(4, failing.RequestCount);

        // After open_for, one trial goes through; its success closes the circuit.
        failing.FailStatus = null;
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.All(await SendAsync(gateway, 3), r => Assert.Equal(200, r.Status));
        Assert.Equal(7, failing.RequestCount);
    }

    [Fact]
    public async Task AnOpenCircuit_SendsTrafficToTheFallbackUpstream()
    {
        await using TestUpstream failing = await TestUpstream.StartAsync("failing");
        await using TestUpstream backup = await TestUpstream.StartAsync("backup");
        failing.FailStatus = 502;
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{failing.Address}\"",
            "fallback = \"backup\"",
            "circuit_breaker = { failure_ratio = 1.0, min_requests = 3 }",
            $"[upstreams.backup]\ntargets = [\"{backup.Address}\"]"));

        var results = await SendAsync(gateway, 8);

        Assert.Equal([502, 502, 502, 200, 200, 200, 200, 200], results.Select(r => r.Status));
        Assert.Equal(5, backup.RequestCount);
    }

    [Fact]
    public async Task PastMaxInFlightAndMaxPending_TheUpstreamAnswers503()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{upstream.Address}\"", "", "max_in_flight = 1\nmax_pending = 1"));
        using RawClient busy = gateway.ConnectRaw();
        await busy.SendAsync("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
        await upstream.SlowEntered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var waitingStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gateway.Host.Runtime.Snapshot.Upstreams["backend"].Admission!.Waiting += _ => waitingStarted.TrySetResult();
        using RawClient waiting = gateway.ConnectRaw();
        await waiting.SendAsync("GET /waiting HTTP/1.1\r\nHost: a\r\n\r\n");
        await waitingStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // The one waiting place is taken: a third request finds none.
        using RawClient third = gateway.ConnectRaw();
        await third.SendAsync("GET /third HTTP/1.1\r\nHost: a\r\n\r\n");
        RawResponse overloaded = await third.ReadResponseAsync();
        Assert.Equal(503, overloaded.Status);
        Assert.Contains("upstream_overloaded", overloaded.Body);
        upstream.SlowGate.SetResult();
        Assert.Equal(200, (await busy.ReadResponseAsync()).Status);
        Assert.Equal(200, (await waiting.ReadResponseAsync()).Status);
    }

    [Fact]
    public async Task ASplitRoute_SpreadsRequestsByShare()
    {
        await using TestUpstream stable = await TestUpstream.StartAsync("stable");
        await using TestUpstream canary = await TestUpstream.StartAsync("canary");
        await using TestGateway gateway = await TestGateway.StartAsync($$"""
            [upstreams.stable]
            targets = ["{{stable.Address}}"]
            [upstreams.canary]
            targets = ["{{canary.Address}}"]
            [routes.all]
            path_prefix = "/"
            split = { stable = 3, canary = 1 }
            """);

        await SendAsync(gateway, 400);

        Assert.Equal(400, stable.RequestCount + canary.RequestCount);
        Assert.InRange(canary.RequestCount, 60, 140);
    }

    [Fact]
    public async Task AMirroredRoute_AnswersFromThePrimary_WhileTheMirrorGetsACopy()
    {
        await using TestUpstream primary = await TestUpstream.StartAsync("primary");
        await using TestUpstream shadow = await TestUpstream.StartAsync("shadow");
        shadow.FailStatus = 500;
        shadow.Delay = TimeSpan.FromMilliseconds(200);
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{primary.Address}\"", "mirror = \"shadow\"", more: $"[upstreams.shadow]\ntargets = [\"{shadow.Address}\"]"));

        using HttpClient http = gateway.CreateClient();
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await http.GetAsync($"/copy/{i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("primary", response.Headers.GetValues("X-Upstream").Single());
        }

        await shadow.WaitForRequestsAsync(5).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"/copy/{i}").Order(), shadow.Paths.Order());
        Assert.Equal(5, primary.RequestCount);
    }

    [Fact]
    public async Task ADestinationKilledMidRequest_IsRetriedForAGet_ButNotForAPost()
    {
        using var dying = new TcpListener(IPAddress.Loopback, 0);
        dying.Start();
        using var stop = new CancellationTokenSource();
        Task killer = Task.Run(async () =>
        {
            // Reads the request, then resets the connection before any answer.
            while (!stop.IsCancellationRequested)
            {
                using Socket socket = await dying.AcceptSocketAsync(stop.Token);
                await socket.ReceiveAsync(new byte[4096], SocketFlags.None);
                socket.LingerState = new LingerOption(true, 0);
            }
        });
        await using TestUpstream working = await TestUpstream.StartAsync("working");
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{dying.LocalEndpoint}\", \"{working.Address}\"", "retries = { attempts = 1, on = [\"reset\"], budget_percent = 100 }"));

        Assert.All(await SendAsync(gateway, 6), r => Assert.Equal(200, r.Status));
        var posts = await SendAsync(gateway, 6, HttpMethod.Post);
        Assert.Equal(6, posts.Count(r => r.Status == 200) + posts.Count(r => r.Status == 502));
        Assert.Equal(3, posts.Count(r => r.Status == 502));

        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => killer);
    }

    [Fact]
    public async Task ABufferedBody_IsSentAgainOnRetry_AndCopiedToTheMirror()
    {
        await using TestUpstream failing = await TestUpstream.StartAsync("failing");
        await using TestUpstream working = await TestUpstream.StartAsync("working");
        await using TestUpstream shadow = await TestUpstream.StartAsync("shadow");
        failing.FailStatus = 503;
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{failing.Address}\", \"{working.Address}\"",
            "retries = { attempts = 1, on = [503], budget_percent = 100 }\nmirror = \"shadow\"",
            more: $"[upstreams.shadow]\ntargets = [\"{shadow.Address}\"]"));

        using HttpClient http = gateway.CreateClient();
        for (int i = 0; i < 4; i++)
        {
            using HttpResponseMessage response = await http.PutAsync($"/put/{i}", new ByteArrayContent(new byte[5000]));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(5000, EchoResult.Parse(await response.Content.ReadAsStringAsync()).BodyLength);
        }

        // The retried ones reached the working destination with the whole body; the mirror got each body too.
        Assert.True(failing.RequestCount >= 2);
        Assert.All(working.BodyLengths, length => Assert.Equal(5000, length));
        await shadow.WaitForRequestsAsync(4).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(4, shadow.Paths.Count(p => p.StartsWith("/put/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ABodyLargerThanTheBuffer_IsStreamed_AndNotRetried()
    {
        await using TestUpstream failing = await TestUpstream.StartAsync("failing");
        await using TestUpstream working = await TestUpstream.StartAsync("working");
        failing.FailStatus = 503;
        await using TestGateway gateway = await TestGateway.StartAsync(Config(
            $"\"{failing.Address}\", \"{working.Address}\"",
            "retries = { attempts = 1, on = [503], budget_percent = 100 }\nbody_buffer = \"1KB\""));

        using HttpClient http = gateway.CreateClient();
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 4; i++)
        {
            using HttpResponseMessage response = await http.PutAsync($"/put/{i}", new ByteArrayContent(new byte[5000]));
            statuses.Add(response.StatusCode);
        }

        Assert.Equal(failing.RequestCount, statuses.Count(s => s == HttpStatusCode.ServiceUnavailable));
        Assert.Equal(4, failing.RequestCount + working.RequestCount);
    }
}
