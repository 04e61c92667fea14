using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

public class BalancingTests
{
    private static Task<TestGateway> StartAsync(string upstreamSettings) => TestGateway.StartAsync($"""
        [upstreams.backend]
        {upstreamSettings}

        [routes.all]
        path_prefix = "/"
        upstream = "backend"
        """);

    private static async Task<Dictionary<string, int>> SendAsync(TestGateway gateway, int requests, int concurrency)
    {
        Answer[] answers = await gateway.SendManyAsync(requests, concurrency: concurrency);
        Assert.All(answers, answer => Assert.Equal(200, answer.Status));
        return answers.GroupBy(answer => answer.Upstream!).ToDictionary(g => g.Key, g => g.Count());
    }

    [Fact]
    public async Task RoundRobin_SplitsTrafficExactlyByWeight()
    {
        await using TestUpstream heavy = await TestUpstream.StartAsync("heavy");
        await using TestUpstream light = await TestUpstream.StartAsync("light");
        await using TestGateway gateway = await StartAsync($$"""
            targets = [{ address = "{{heavy.Address}}", weight = 3 }, "{{light.Address}}"]
            balance = "round_robin"
            """);

        Dictionary<string, int> counts = await SendAsync(gateway, 400, concurrency: 1);

        Assert.Equal(300, counts["heavy"]);
        Assert.Equal(100, counts["light"]);
    }

    [Fact]
    public async Task PowerOfTwoChoices_SendsMostTrafficToTheFasterDestination()
    {
        await using TestUpstream slow = await TestUpstream.StartAsync("slow");
        await using TestUpstream fast = await TestUpstream.StartAsync("fast");
        // Far slower than a stall the machine may add to a fast answer (the peak average takes a slow sample at once;
        // with a 50 ms delay, one 250 ms stall of the fast destination under a parallel test run sent it the rest).
        slow.Delay = TimeSpan.FromMilliseconds(250);
        await using TestGateway gateway = await StartAsync($"""
            targets = ["{slow.Address}", "{fast.Address}"]
            """);

        Dictionary<string, int> counts = await SendAsync(gateway, 300, concurrency: 4);

        // Round robin would send 150 to each; the slow destination's latency and queue keep it far below that.
        Assert.True(counts.GetValueOrDefault("slow") < 60, $"the slow destination got {counts.GetValueOrDefault("slow")} of 300");
    }

    [Fact]
    public async Task ConsistentHash_SendsEveryUserToOneDestination()
    {
        await using TestUpstream first = await TestUpstream.StartAsync("first");
        await using TestUpstream second = await TestUpstream.StartAsync("second");
        await using TestUpstream third = await TestUpstream.StartAsync("third");
        await using TestGateway gateway = await StartAsync($"""
            targets = ["{first.Address}", "{second.Address}", "{third.Address}"]
            balance = "consistent_hash"
            hash_on = "header:x-user"
            """);

        var destinations = new Dictionary<string, HashSet<string>>();
        using HttpClient http = gateway.CreateClient();
        for (int i = 0; i < 120; i++)
        {
            string user = $"user-{i % 30}";
            using var request = new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { { "X-User", user } } };
            using HttpResponseMessage response = await http.SendAsync(request);
            destinations.TryAdd(user, []);
            destinations[user].Add(response.Headers.GetValues("X-Upstream").Single());
        }

        Assert.All(destinations.Values, seen => Assert.Single(seen));
        Assert.Equal(3, destinations.Values.SelectMany(v => v).Distinct().Count());
    }
}
