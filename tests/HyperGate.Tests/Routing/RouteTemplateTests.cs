using System.Buffers;
using System.Text;
using HyperGate.Http1;
using HyperGate.Routing;

namespace HyperGate.Tests.Routing;

/// <summary>Path templates ({id}, {*rest}), query predicates and the presence and regex forms of header predicates.</summary>
public class RouteTemplateTests
{
    private static Route Route(string name, string path, bool prefix = false, params RequestPredicate[] predicates) =>
        new() { Name = name, Path = path, PathKind = prefix ? PathMatchKind.Prefix : PathMatchKind.Exact, Predicates = predicates };

    /// <summary>The matched route's name and its captured parameters ("users id=7"), or the rejection.</summary>
    private static string Match(RouteTable table, string target, string extraHeaders = "")
    {
        using var head = new RequestHead();
        string text = $"GET {target} HTTP/1.1\r\nHost: example.com\r\n{extraHeaders}\r\n";
        Assert.Equal(ParseStatus.Complete, RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)), head, HeadLimits.Default, out _, out _, out _));
        Assert.Equal(RejectionReason.None, head.NormalizePath());
        RouteMatch match = table.Match(head);
        if (match.Route is not { } route)
        {
            return match.Rejection.ToString();
        }

        IEnumerable<string> parameters = route.Template.ParameterNames.Select((name, i) => $" {name}={Encoding.ASCII.GetString(head.PathParameter(i))}");
        return route.Name + string.Concat(parameters);
    }

    private static RouteTable Build(params Route[] routes)
    {
        RouteTable table = RouteTable.Build(routes, out List<string> ambiguities);
        Assert.Empty(ambiguities);
        return table;
    }

    [Theory]
    [InlineData("/users/7", "user id=7")]
    [InlineData("/users/me", "me")]
    [InlineData("/users/7/orders", "orders id=7")]
    [InlineData("/users/me/orders", "orders id=me")]
    [InlineData("/users/7/orders/42", "order id=7 order=42")]
    [InlineData("/users", "NoRoute")]
    [InlineData("/users/", "NoRoute")]
    [InlineData("/users/7/", "NoRoute")]
    [InlineData("/users/7/unknown", "NoRoute")]
    public void Parameters_CaptureWholeSegments_LiteralsWin_AndTheMatchBacktracks(string path, string expected)
    {
        // "/users/me/orders": the literal "me" has no orders child, so the walk backtracks into {id}.
        RouteTable table = Build(
            Route("user", "/users/{id}"),
            Route("me", "/users/me"),
            Route("orders", "/users/{id}/orders"),
            Route("order", "/users/{id}/orders/{order}"));

        Assert.Equal(expected, Match(table, path));
    }

    [Theory]
    [InlineData("/files/a/b/c.txt", "files rest=a/b/c.txt")]
    [InlineData("/files/x", "files rest=x")]
    [InlineData("/files/", "files rest=")]
    [InlineData("/files", "files rest=")]
    [InlineData("/files/readme", "readme")]
    [InlineData("/filesystem", "NoRoute")]
    public void CatchAll_TakesTheRestOfThePath_PossiblyEmpty(string path, string expected)
    {
        RouteTable table = Build(Route("files", "/files/{*rest}"), Route("readme", "/files/readme"));
        Assert.Equal(expected, Match(table, path));
    }

    [Fact]
    public void PrefixWithAParameter_MatchesTheSubtree_AndTheDeepestPrefixWins()
    {
        RouteTable table = Build(Route("tenant", "/t/{tenant}", prefix: true), Route("admin", "/t/{tenant}/admin", prefix: true), Route("root", "/", prefix: true));

        Assert.Equal("tenant tenant=blue", Match(table, "/t/blue/items/3"));
        Assert.Equal("admin tenant=blue", Match(table, "/t/blue/admin/users"));
        Assert.Equal("root", Match(table, "/t"));
    }

    [Fact]
    public void ParametersOfTheSameShape_AreAmbiguous_WhateverTheirNames()
    {
        RouteTable.Build([Route("a", "/users/{id}"), Route("b", "/users/{uid}")], out List<string> ambiguities);
        Assert.Equal(["routes \"a\" and \"b\" match the same requests"], ambiguities);
    }

    [Theory]
    [InlineData("/search?version=2", "v2")]
    [InlineData("/search?a=1&version=2&b", "v2")]
    [InlineData("/search?version=%32", "v2")]
    [InlineData("/search?version=3", "plain")]
    [InlineData("/search?version=", "plain")]
    [InlineData("/search?debug", "debug")]
    [InlineData("/search?debug=0&version=2", "v2")]
    [InlineData("/search?id=123", "numeric")]
    [InlineData("/search?id=12a", "plain")]
    public void QueryPredicates_Equal_Present_AndRegex(string target, string expected)
    {
        RouteTable table = Build(
            Route("v2", "/search", predicates: [new QueryPredicate("version", ValueTest.Equals, "2"), new QueryPredicate("beta", ValueTest.Absent)]),
            Route("debug", "/search", predicates: new QueryPredicate("debug", ValueTest.Present)),
            Route("numeric", "/search", predicates: new QueryPredicate("id", ValueTest.Regex, "^[0-9]+$")),
            Route("plain", "/search"));

        Assert.Equal(expected, Match(table, target));
    }

    [Fact]
    public void AbsentQueryParameter_FailsWhenPresent()
    {
        RouteTable table = Build(Route("stable", "/s", predicates: new QueryPredicate("beta", ValueTest.Absent)), Route("any", "/s", prefix: true));
        Assert.Equal("stable", Match(table, "/s?x=1"));
        Assert.Equal("any", Match(table, "/s?beta=1"));
    }

    [Theory]
    [InlineData("X-Debug: 1\r\n", "debug")]
    [InlineData("X-Debug:\r\n", "debug")]
    [InlineData("X-Tenant: t-42\r\n", "tenant")]
    [InlineData("X-Tenant: t-4x\r\n", "none")]
    [InlineData("", "none")]
    public void HeaderPredicates_PresenceAndRegex(string headers, string expected)
    {
        RouteTable table = Build(
            Route("debug", "/", predicates: new HeaderPredicate("x-debug", ValueTest.Present)),
            Route("tenant", "/", predicates: new HeaderPredicate("X-Tenant", ValueTest.Regex, "^t-[0-9]+$")),
            Route("none", "/", predicates: new HeaderPredicate("x-debug", ValueTest.Absent)));

        Assert.Equal(expected, Match(table, "/", headers));
    }

    [Theory]
    [InlineData("/users/{id}/{*rest}")]
    [InlineData("/")]
    [InlineData("/a/{b}/c")]
    public void ValidTemplates_Parse(string path) => Assert.NotNull(PathTemplate.Parse(path, out _));

    [Theory]
    [InlineData("/users/user-{id}", "mixes text and a parameter")]
    [InlineData("/{*rest}/x", "must be the last segment")]
    [InlineData("/{id}/{id}", "appears twice")]
    [InlineData("/{1st}", "is not a parameter name")]
    [InlineData("/{}", "is not a parameter name")]
    public void InvalidTemplates_SayWhy(string path, string reason)
    {
        Assert.Null(PathTemplate.Parse(path, out string? error));
        Assert.Contains(reason, error);
    }

    [Theory]
    [InlineData("/v2/accounts/{id}", "/users/{id}", null)]
    [InlineData("/v2/accounts/{path.id}", "/users/{id}", null)]
    [InlineData("/v2/{nope}", "/users/{id}", "{nope} is not a parameter of the route's path (it has {id})")]
    [InlineData("v2", "/users/{id}", "must be a path starting with /")]
    [InlineData("/a?b=1", "/users/{id}", "must be a path starting with /")]
    public void Rewrites_NameOnlyTheRoutesParameters(string rewrite, string path, string? error)
    {
        PathRewrite? compiled = PathRewrite.Compile(rewrite, PathTemplate.Parse(path, out _)!, out string? reason);
        Assert.Equal(error is null, compiled is not null);
        Assert.StartsWith(error ?? string.Empty, reason ?? string.Empty, StringComparison.Ordinal);
    }
}
