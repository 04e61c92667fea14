using System.Buffers;
using System.Text;
using HyperGate.Http1;
using HyperGate.Routing;

namespace HyperGate.Tests.Routing;

public class RouteTableTests
{
    private static Route Prefix(string name, string path, string? host = null, string[]? methods = null, int priority = 0, (string, string)[]? headers = null) => new()
    {
        Name = name,
        Path = path,
        PathKind = PathMatchKind.Prefix,
        Host = host,
        Methods = methods ?? [],
        Priority = priority,
        Predicates = [.. (headers ?? []).Select(h => new HeaderPredicate(h.Item1, ValueTest.Equals, h.Item2))],
    };

    private static Route Exact(string name, string path, string? host = null) => new() { Name = name, Path = path, PathKind = PathMatchKind.Exact, Host = host };

    private static string? Match(RouteTable table, string path, string host = "example.com", string method = "GET", string extraHeaders = "")
    {
        using var head = new RequestHead();
        string text = $"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extraHeaders}\r\n";
        Assert.Equal(ParseStatus.Complete, RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)), head, HeadLimits.Default, out _, out _, out _));
        Assert.Equal(RejectionReason.None, head.NormalizePath());
        RouteMatch match = table.Match(head);
        return match.Route?.Name ?? match.Rejection.ToString();
    }

    private static RouteTable Build(params Route[] routes)
    {
        RouteTable table = RouteTable.Build(routes, out List<string> ambiguities);
        Assert.Empty(ambiguities);
        return table;
    }

    [Theory]
    [InlineData("/users", "users")]
    [InlineData("/users/", "users")]
    [InlineData("/users/7", "users")]
    [InlineData("/users/7/orders", "orders")]
    [InlineData("/usersx", "root")]
    [InlineData("/user", "root")]
    [InlineData("/", "root")]
    public void Match_PrefixesMatchOnSegmentBoundaries_LongestWins(string path, string expected)
    {
        RouteTable table = Build(Prefix("root", "/"), Prefix("users", "/users"), Prefix("orders", "/users/7/orders"));
        Assert.Equal(expected, Match(table, path));
    }

    [Fact]
    public void Match_ExactBeatsPrefix_AndOnlyMatchesItsPath()
    {
        RouteTable table = Build(Prefix("prefix", "/users"), Exact("exact", "/users"));
        Assert.Equal("exact", Match(table, "/users"));
        Assert.Equal("prefix", Match(table, "/users/"));
        Assert.Equal("prefix", Match(table, "/users/1"));
    }

    [Fact]
    public void Match_SpecificHostBeatsWildcardBeatsAny()
    {
        RouteTable table = Build(Prefix("any", "/"), Prefix("wild", "/", "*.example.com"), Prefix("exact", "/", "api.example.com"));
        Assert.Equal("exact", Match(table, "/x", "api.example.com"));
        Assert.Equal("exact", Match(table, "/x", "API.Example.com:8080"));
        Assert.Equal("wild", Match(table, "/x", "www.example.com"));
        Assert.Equal("wild", Match(table, "/x", "a.b.example.com"));
        Assert.Equal("any", Match(table, "/x", "example.com"));
        Assert.Equal("any", Match(table, "/x", "other.org"));
    }

    [Fact]
    public void Match_HostRouteWithoutMatchingPath_FallsBackToLessSpecificHost()
    {
        RouteTable table = Build(Prefix("api-users", "/users", "api.example.com"), Prefix("any", "/"));
        Assert.Equal("any", Match(table, "/orders", "api.example.com"));
    }

    [Fact]
    public void Match_MethodAndHeaderPredicates_ThenPriority()
    {
        RouteTable table = Build(
            Prefix("get", "/a", methods: ["GET"]),
            Prefix("blue", "/a", headers: [("X-Tenant", "blue")]),
            Prefix("low", "/a", priority: 1),
            Prefix("high", "/a", priority: 5));
        Assert.Equal("get", Match(table, "/a"));
        Assert.Equal("blue", Match(table, "/a", method: "POST", extraHeaders: "x-tenant: blue\r\n"));
        Assert.Equal("high", Match(table, "/a", method: "POST", extraHeaders: "x-tenant: green\r\n"));
    }

    [Fact]
    public void Match_OnlyMethodMismatch_Is405_NoMatch_Is404()
    {
        RouteTable table = Build(Prefix("get", "/a", methods: ["GET", "HEAD"]));
        Assert.Equal(nameof(RejectionReason.MethodNotAllowed), Match(table, "/a", method: "DELETE"));
        Assert.Equal(nameof(RejectionReason.NoRoute), Match(table, "/b"));
    }

    [Theory]
    [InlineData("/x/../admin")]
    [InlineData("/%61dmin")]
    [InlineData("//admin")]
    [InlineData("/admin/.")]
    [InlineData("/public/../admin/x")]
    public void Match_OtherSpellingsOfProtectedPath_ReachTheSameRoute(string path)
    {
        RouteTable table = Build(Prefix("public", "/"), Prefix("admin", "/admin"));
        Assert.Equal("admin", Match(table, path));
    }

    [Theory]
    [InlineData("/ADMIN")]
    [InlineData("/Admin/Users")]
    [InlineData("/x/../aDmIn")]
    public void Match_CaseInsensitiveTable_IgnoresCase_CaseSensitiveDoesNot(string path)
    {
        RouteTable insensitive = RouteTable.Build([Prefix("public", "/"), Prefix("admin", "/Admin")], out List<string> ambiguities, caseSensitive: false);
        Assert.Empty(ambiguities);
        Assert.Equal("admin", Match(insensitive, path));
        Assert.Equal("public", Match(Build(Prefix("public", "/"), Prefix("admin", "/admin")), path));
    }

    [Fact]
    public void Build_CaseInsensitive_RoutesDifferingOnlyInCase_AreAmbiguous()
    {
        RouteTable.Build([Prefix("a", "/admin"), Prefix("b", "/ADMIN")], out List<string> ambiguities, caseSensitive: false);
        Assert.Single(ambiguities);
    }

    [Fact]
    public void Build_IndistinguishableRoutes_AreReportedAmbiguous()
    {
        RouteTable.Build([Prefix("a", "/x"), Prefix("b", "/x")], out List<string> ambiguities);
        Assert.Single(ambiguities);
        RouteTable.Build([Prefix("a", "/x", methods: ["GET"]), Prefix("b", "/x", methods: ["GET", "POST"])], out ambiguities);
        Assert.Single(ambiguities);
        RouteTable.Build([Prefix("a", "/x", methods: ["GET"]), Prefix("b", "/x", methods: ["POST"]), Prefix("c", "/x", priority: 1), Prefix("d", "/x")], out ambiguities);
        Assert.Empty(ambiguities);
    }

    [Fact]
    public void Match_ManyRoutes_FindsEach()
    {
        Route[] routes = Enumerable.Range(0, 2000).Select(i => Prefix($"r{i}", $"/svc{i}/v{i % 7}")).ToArray();
        RouteTable table = Build([.. routes, Prefix("root", "/")]);
        for (int i = 0; i < 2000; i += 97)
        {
            Assert.Equal($"r{i}", Match(table, $"/svc{i}/v{i % 7}/items/1"));
        }

        Assert.Equal("root", Match(table, "/svc1/v2"));
    }
}
