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
            [upstreams.canary]
            targets = ["127.0.0.1:9002"]
            [routes.orders]
            path_prefix = "/orders"
            split = { users = 9, canary = 1 }
            retries = { attempts = 2, on = ["connect_failure", 503] }
            timeout = "2500ms"
            fallback = { status = 503, body = "later" }
            mirror = "canary"
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
        Assert.Equal(["users: MATCHED", "beta: header x-beta = \"1\" is not met", "orders: path is not under /orders", "health: path is not /health"], explanation.Considered);
        Assert.Equal(["rate limits, all must pass: per_ip", "forwarded to upstream \"users\" (127.0.0.1:9001), prefix /users stripped"], explanation.Steps);
    }

    [Fact]
    public void TrafficPolicies_AreListedWithTheForwarding()
    {
        Explanation explanation = RouteExplainer.Explain(_snapshot, "GET", new Uri("http://any.example.com/orders/1"), []);

        Assert.Equal(
            [
                "forwarded to one of upstream \"users\" (127.0.0.1:9001) with share 9, upstream \"canary\" (127.0.0.1:9002) with share 1",
                "retried up to 2 time(s) on connect_failure, 503, within 20% of requests",
                "answered 504 unless a response head arrives within 2.5s, retries included",
                "while the circuit is open: answered by the gateway: 503",
                "copied to upstream \"canary\", whose answer is dropped",
            ],
            explanation.Steps);
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
        Assert.StartsWith("rejected before routing: EncodedNul", RouteExplainer.Explain(_snapshot, "GET", new Uri("http://api.example.com/a%00"), []).Outcome);
        Assert.StartsWith("rejected: EncodedSlash", RouteExplainer.Explain(_snapshot, "GET", new Uri("http://api.example.com/a%2Fb"), []).Outcome);
    }

    public ValueTask DisposeAsync() => _runtime.DisposeAsync();
}
