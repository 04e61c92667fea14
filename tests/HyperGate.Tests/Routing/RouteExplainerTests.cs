using HyperGate.Configuration;
using HyperGate.Hosting;
using HyperGate.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Tests.Routing;

public sealed class RouteExplainerTests : IAsyncDisposable
{
    private readonly GatewayRuntime _runtime;
    private readonly GatewaySnapshot _snapshot;

    public RouteExplainerTests()
    {
        GatewayConfig config = ConfigLoader.Parse("""
            [server]
            listen = ["127.0.0.1:8080"]
            [rate_limits.per_ip]
            key = "ip"
            rate = 10
            per = "1s"
            [upstreams.users]
            targets = ["127.0.0.1:9001"]
            [routes.users]
            host = "api.example.com"
            path_prefix = "/users"
            methods = ["GET"]
            upstream = "users"
            strip_prefix = true
            rate_limit = ["per_ip"]
            [routes.beta]
            host = "api.example.com"
            path_prefix = "/users"
            methods = ["GET"]
            headers = { "x-beta" = "1" }
            upstream = "users"
            [routes.health]
            path = "/health"
            respond = { status = 200 }
            """, "explain.toml");
        _runtime = GatewayRuntime.Create(config, TimeProvider.System, NullLoggerFactory.Instance);
        _snapshot = _runtime.Snapshot;
    }

    [Fact]
    public void Match_NamesTheRoute_EveryOtherRoutesReason_AndWhatRuns()
    {
        Explanation explanation = RouteExplainer.Explain(_snapshot, "GET", new Uri("http://API.example.com/users/../users/7"), []);

        Assert.Equal("users", explanation.Route);
        Assert.Equal("route \"users\" (normalized path /users/7)", explanation.Outcome);
        Assert.Equal(["users: MATCHED", "beta: a header predicate is not met", "health: path is not /health"], explanation.Considered);
        Assert.Equal(["rate limits, all must pass: per_ip", "forwarded to upstream \"users\" (127.0.0.1:9001), prefix /users stripped"], explanation.Steps);
    }

    [Fact]
    public void MoreSpecificRoute_WinsAndTheOtherIsToldWhy()
    {
        Explanation explanation = RouteExplainer.Explain(_snapshot, "GET", new Uri("http://api.example.com/users/7"), [new("X-Beta", "1")]);

        Assert.Equal("beta", explanation.Route);
        Assert.StartsWith("users: matches too, but \"beta\" is more specific", explanation.Considered[0]);
    }

    [Fact]
    public void WrongMethod_WrongHost_AndBadPaths_AreExplained()
    {
        Assert.Equal("405: route \"users\" does not accept DELETE", RouteExplainer.Explain(_snapshot, "DELETE", new Uri("http://api.example.com/users/7"), []).Outcome);
        Explanation elsewhere = RouteExplainer.Explain(_snapshot, "GET", new Uri("http://other.example.com/users/7"), []);
        Assert.Equal("404: no route matches", elsewhere.Outcome);
        Assert.Contains("users: host other.example.com is not api.example.com", elsewhere.Considered);
        Assert.StartsWith("rejected before routing", RouteExplainer.Explain(_snapshot, "GET", new Uri("http://api.example.com/a%2Fb"), []).Outcome);
    }

    public ValueTask DisposeAsync() => _runtime.DisposeAsync();
}
