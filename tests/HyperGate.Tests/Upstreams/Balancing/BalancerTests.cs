using HyperGate.Upstreams;
using HyperGate.Upstreams.Balancing;

namespace HyperGate.Tests.Upstreams.Balancing;

public sealed class BalancerTests : IAsyncDisposable
{
    private readonly BalancerTestBed _bed = new();

    public ValueTask DisposeAsync() => _bed.DisposeAsync();

    [Fact]
    public void SmoothRoundRobin_InterleavesTheHeavyDestination()
    {
        Assert.Equal([0, 0, 1, 0, 2, 0, 0], SmoothRoundRobinBalancer.Cycle([5, 1, 1]));
        Assert.Equal([0, 1], SmoothRoundRobinBalancer.Cycle([4, 4]));
    }

    [Fact]
    public void SmoothRoundRobin_GivesEachDestinationItsWeightPerCycle_WithoutRunsLongerThanTheRatio()
    {
        Destination[] destinations = _bed.Destinations(3);
        var balancer = new SmoothRoundRobinBalancer(destinations, [3, 2, 1], new Random(1));
        Destination[] picks = [.. Enumerable.Range(0, 600).Select(_ => balancer.Pick(_bed.Request()))];

        Assert.Equal([300, 200, 100], destinations.Select(d => picks.Count(p => p == d)));
        int longestRun = picks.Select((p, i) => picks.Skip(i).TakeWhile(q => q == p).Count()).Max();
        Assert.True(longestRun <= 2, $"the heaviest destination was picked {longestRun} times in a row");
    }

    [Fact]
    public void SmoothRoundRobin_ScalesHugeWeightSumsDown_KeepingEveryDestination()
    {
        int[] cycle = SmoothRoundRobinBalancer.Cycle([1000, 999, 1, 1000, 997]);

        Assert.True(cycle.Length <= 4096);
        Assert.All(Enumerable.Range(0, 5), i => Assert.Contains(i, cycle));
    }

    [Fact]
    public void Random_FollowsTheWeights()
    {
        Destination[] destinations = _bed.Destinations(3);
        var balancer = new RandomBalancer(destinations, [1, 2, 5], new Random(7));

        Dictionary<Destination, int> tally = BalancerTestBed.Tally(balancer, _bed.Request(), 80_000);

        Assert.Equal([10_000, 20_000, 50_000], destinations.Select(d => (tally[d] + 500) / 1000 * 1000));
    }

    [Fact]
    public void LeastRequests_PicksTheLeastLoadedPerWeight_AndRotatesAmongEquals()
    {
        Destination[] destinations = _bed.Destinations(3);
        var balancer = new LeastRequestsBalancer(destinations, [1, 1, 3]);
        Start(destinations[0], 2);
        Start(destinations[1], 1);
        Start(destinations[2], 5);

        // Loads per weight: 3/1, 2/1, 6/3 = 2 — a tie between the second and third, broken by rotation.
        var picked = new HashSet<Destination>(Enumerable.Range(0, 6).Select(_ => balancer.Pick(_bed.Request())));
        Assert.Equal(new HashSet<Destination>([destinations[1], destinations[2]]), picked);

        Start(destinations[1], 1);
        Assert.All(Enumerable.Range(0, 6), _ => Assert.Same(destinations[2], balancer.Pick(_bed.Request())));
    }

    [Fact]
    public void LeastRequests_OnAnIdleUpstream_SpreadsEvenly()
    {
        Destination[] destinations = _bed.Destinations(4);
        var balancer = new LeastRequestsBalancer(destinations, [1, 1, 1, 1]);

        Assert.All(BalancerTestBed.Tally(balancer, _bed.Request(), 400).Values, count => Assert.Equal(100, count));
    }

    [Fact]
    public void PowerOfTwoChoices_PrefersTheFasterDestination_UntilItsQueueCostsMore()
    {
        Destination[] destinations = _bed.Destinations(2);
        long now = _bed.Time.GetTimestamp();
        destinations[0].ObserveLatency(1000, now);
        destinations[1].ObserveLatency(100, now);
        var balancer = new PowerOfTwoChoicesBalancer(destinations, [1, 1], new Random(3), _bed.Time);

        Assert.All(Enumerable.Range(0, 20), _ => Assert.Same(destinations[1], balancer.Pick(_bed.Request())));

        // 100 µs × (10 + 1) in flight costs more than 1000 µs × (0 + 1).
        Start(destinations[1], 10);
        Assert.Same(destinations[0], balancer.Pick(_bed.Request()));
    }

    [Fact]
    public void PowerOfTwoChoices_AvoidsAnUnmeasuredDestinationThatIsAlreadyBusy()
    {
        Destination[] destinations = _bed.Destinations(2);
        destinations[0].ObserveLatency(50_000, _bed.Time.GetTimestamp());
        var balancer = new PowerOfTwoChoicesBalancer(destinations, [1, 1], new Random(3), _bed.Time);

        Assert.Same(destinations[1], balancer.Pick(_bed.Request()));
        Start(destinations[1], 1);
        Assert.Same(destinations[0], balancer.Pick(_bed.Request()));
    }

    [Fact]
    public void LatencyAverage_TakesPeaksAtOnce_AndFadesWithTime()
    {
        Destination destination = _bed.Destination("10.0.0.9:80");
        destination.ObserveLatency(100, _bed.Time.GetTimestamp());
        destination.ObserveLatency(1000, _bed.Time.GetTimestamp());
        Assert.Equal(1000, destination.LatencyAt(_bed.Time.GetTimestamp()));

        destination.ObserveLatency(100, _bed.Time.GetTimestamp());
        Assert.Equal(730, destination.LatencyAt(_bed.Time.GetTimestamp()), 6);

        _bed.Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(730 / Math.E, destination.LatencyAt(_bed.Time.GetTimestamp()), 6);
    }

    [Fact]
    public void ConsistentHash_SendsAKeyToTheSameDestination_AndSpreadsKeysByWeight()
    {
        Destination[] destinations = _bed.Destinations(4);
        var balancer = new ConsistentHashBalancer(destinations, [1, 1, 1, 2], new HashKey(HashKeyKind.Header, "x-user"), 1.25, new Random(1));

        Destination first = balancer.Pick(_bed.Request("/", "X-User: alice"));
        Assert.All(Enumerable.Range(0, 10), _ => Assert.Same(first, balancer.Pick(_bed.Request("/", "X-User: alice"))));

        int[] owners = new int[4];
        for (int key = 0; key < 50_000; key++)
        {
            owners[balancer.OwnerOf(Hash(key))]++;
        }

        // Shares of 1/5, 1/5, 1/5 and 2/5, each within 15% of its expected size.
        double[] expected = [10_000, 10_000, 10_000, 20_000];
        Assert.All(Enumerable.Range(0, 4), i => Assert.InRange(owners[i], expected[i] * 0.85, expected[i] * 1.15));
    }

    [Fact]
    public void ConsistentHash_AddingADestination_MovesOnlyItsShareOfKeys_AllToIt()
    {
        Destination[] four = _bed.Destinations(4);
        Destination[] five = _bed.Destinations(5);
        var key = new HashKey(HashKeyKind.Path);
        var before = new ConsistentHashBalancer(four, [1, 1, 1, 1], key, 1.25, new Random(1));
        var after = new ConsistentHashBalancer(five, [1, 1, 1, 1, 1], key, 1.25, new Random(1));

        int moved = 0;
        for (int i = 0; i < 20_000; i++)
        {
            Destination from = four[before.OwnerOf(Hash(i))];
            Destination to = five[after.OwnerOf(Hash(i))];
            if (from != to)
            {
                Assert.Same(five[4], to);
                moved++;
            }
        }

        Assert.InRange(moved / 20_000.0, 0.15, 0.25);
    }

    [Fact]
    public void ConsistentHash_BoundsTheLoad_EvenWhenEveryRequestHasTheSameKey()
    {
        Destination[] destinations = _bed.Destinations(4);
        var balancer = new ConsistentHashBalancer(destinations, [1, 1, 1, 1], new HashKey(HashKeyKind.Cookie, "session"), 1.25, new Random(1));

        // Requests that stay in flight: the hot key's owner fills up to its bound, then the others take the rest.
        for (int request = 1; request <= 400; request++)
        {
            balancer.Pick(_bed.Request("/", "Cookie: theme=dark; session=hot")).RequestStarted();
            Assert.All(destinations, d => Assert.True(d.InFlight <= Math.Ceiling(1.25 * request / 4), $"{d.InFlight} in flight after {request}"));
        }
    }

    [Theory]
    [InlineData("session=abc", "session", "abc")]
    [InlineData("theme=dark; session=abc; x=1", "session", "abc")]
    [InlineData("mysession=abc; session=", "session", "")]
    [InlineData("theme=dark", "session", "")]
    public void CookieValue_FindsTheNamedCookie(string header, string name, string expected) =>
        Assert.Equal(expected, System.Text.Encoding.ASCII.GetString(ConsistentHashBalancer.CookieValue(System.Text.Encoding.ASCII.GetBytes(header), System.Text.Encoding.ASCII.GetBytes(name))));

    [Fact]
    public void ConsistentHash_OnIp_HashesTheClientAddress_AndWithoutAKey_SpreadsAtRandom()
    {
        var key = new HashKey(HashKeyKind.Ip);
        Assert.Equal("192.0.2.7"u8.ToArray(), ConsistentHashBalancer.Key(_bed.Request(), key).ToArray());

        Destination[] destinations = _bed.Destinations(4);
        var balancer = new ConsistentHashBalancer(destinations, [1, 1, 1, 1], new HashKey(HashKeyKind.Header, "x-user"), 1.25, new Random(5));
        Assert.Equal(4, BalancerTestBed.Tally(balancer, _bed.Request(), 100).Count(p => p.Value > 0));
    }

    private static void Start(Destination destination, int requests)
    {
        for (int i = 0; i < requests; i++)
        {
            destination.RequestStarted();
        }
    }

    private static ulong Hash(int key) => System.IO.Hashing.XxHash3.HashToUInt64(BitConverter.GetBytes(key));
}
