using System.Buffers;
using System.Text;
using HyperGate.Caching;
using HyperGate.Http1;
using Xunit;

namespace HyperGate.Tests.Caching;

/// <summary>RFC 9111's rules as tables; each row names its section.</summary>
public class CachePolicyTests
{
    private const long Now = 1_800_000_000;

    private static RequestHead Request(string fields = "", string method = "GET")
    {
        var head = new RequestHead();
        string text = $"{method} /r HTTP/1.1\r\nHost: a.test\r\n{fields}\r\n";
        Assert.Equal(ParseStatus.Complete, RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text)), head, HeadLimits.Default, out _, out _, out _));
        return head;
    }

    private static ResponseHead Response(string fields, int status = 200)
    {
        var head = new ResponseHead();
        string text = $"HTTP/1.1 {status} X\r\n{fields}Content-Length: 0\r\n\r\n";
        Assert.Equal(ParseStatus.Complete, ResponseHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text)), head, HeadLimits.UpstreamResponse, out _, out _, out _));
        return head;
    }

    /// <summary>A stored field block: "Name: value" lines, each ended by CRLF.</summary>
    private static byte[] Fields(string fields) =>
        Encoding.ASCII.GetBytes(string.Concat(fields.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Select(line => line + "\r\n")));

    private static string Http(long unixSeconds) => HttpDate.Format(DateTimeOffset.FromUnixTimeSeconds(unixSeconds));

    [Theory]
    [InlineData("max-age=60", 60, -1, false)]
    [InlineData("MAX-AGE=60, s-maxage=\"30\"", 60, 30, false)]      // §5.2: names are case-insensitive; quoted arguments accepted
    [InlineData("max-age=99999999999", CacheDirectives.MaxDelta, -1, false)] // §1.2.2: too large is 2^31
    [InlineData("max-age=abc", -1, -1, true)]                         // §4.2.1: invalid freshness is stale
    [InlineData("max-age=10, max-age=20", 10, -1, true)]              // §4.2.1: conflicting repeats are stale
    [InlineData("max-age", -1, -1, true)]
    [InlineData("no-cache=\"Set-Cookie, X\", max-age=5", 5, -1, false)] // a quoted list with a comma is one argument
    [InlineData("  , ,max-age=7 ,", 7, -1, false)]                   // RFC 9110 §5.6.1: empty list elements
    public void Directives_ParseAsSection5_2Says(string value, long maxAge, long sMaxAge, bool invalid)
    {
        CacheDirectives directives = CacheDirectives.Parse(Encoding.ASCII.GetBytes(value));

        Assert.Equal(maxAge, directives.MaxAge);
        Assert.Equal(sMaxAge, directives.SharedMaxAge);
        Assert.Equal(invalid, directives.InvalidFreshness);
    }

    [Fact]
    public void Directives_AreCollectedFromEveryCacheControlLine()
    {
        CacheDirectives directives = CacheDirectives.Parse(Response("Cache-Control: public\r\nCache-Control: max-age=5, must-revalidate\r\n"));

        Assert.True(directives.Public);
        Assert.True(directives.MustRevalidate);
        Assert.Equal(5, directives.MaxAge);
    }

    [Theory]
    [InlineData("Sun, 06 Nov 1994 08:49:37 GMT")]  // IMF-fixdate
    [InlineData(" Sun, 06 Nov 1994 08:49:37 GMT ")] // IMF-fixdate, with the whitespace around a field value
    [InlineData("Sunday, 06-Nov-94 08:49:37 GMT")] // RFC 850
    [InlineData("Sun Nov  6 08:49:37 1994")]       // asctime
    public void HttpDate_AcceptsAllThreeForms_RFC9110_5_6_7(string text)
    {
        Assert.True(HttpDate.TryParse(Encoding.ASCII.GetBytes(text), out DateTimeOffset date));
        Assert.Equal(new DateTimeOffset(1994, 11, 6, 8, 49, 37, TimeSpan.Zero), date);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("yesterday")]
    [InlineData("Sun, 06 Nov 1994 08:49:37 UTC")]  // IMF-fixdate is always GMT
    [InlineData("Sun, 31 Nov 1994 08:49:37 GMT")]  // no such day
    [InlineData("")]
    public void HttpDate_RefusesWhatIsNotADate(string text) => Assert.False(HttpDate.TryParse(Encoding.ASCII.GetBytes(text), out _));

    public static TheoryData<string, int, long> Lifetimes => new()
    {
        { "Cache-Control: s-maxage=10, max-age=60\r\n", 200, 10 },                                 // §4.2.1: s-maxage first for a shared cache
        { "Cache-Control: max-age=60\r\nExpires: " + Http(Now + 500) + "\r\n", 200, 60 },          // max-age over Expires
        { "Date: " + Http(Now) + "\r\nExpires: " + Http(Now + 500) + "\r\n", 200, 500 },           // Expires minus Date
        { "Expires: " + Http(Now + 300) + "\r\n", 200, 300 },                                      // no Date: the response time
        { "Date: " + Http(Now) + "\r\nExpires: 0\r\n", 200, 0 },                                   // §5.3: invalid is in the past
        { "Date: " + Http(Now) + "\r\nExpires: " + Http(Now + 5) + "\r\nExpires: " + Http(Now + 9) + "\r\n", 200, 0 }, // two Expires: stale
        { "Date: " + Http(Now) + "\r\nLast-Modified: " + Http(Now - 1000) + "\r\n", 200, 100 },   // §4.2.2: 10% heuristic
        { "Date: " + Http(Now) + "\r\nLast-Modified: " + Http(Now - 1000) + "\r\n", 302, 0 },     // 302 is not heuristically cacheable
        { "Cache-Control: public\r\nDate: " + Http(Now) + "\r\nLast-Modified: " + Http(Now - 1000) + "\r\n", 302, 100 }, // unless public
        { "Cache-Control: max-age=x\r\nExpires: " + Http(Now + 500) + "\r\n", 200, 0 },            // invalid max-age: stale
    };

    [Theory]
    [MemberData(nameof(Lifetimes))]
    public void FreshnessLifetime_FollowsSection4_2_1(string fields, int status, long expected)
    {
        // The stored response parses its own Cache-Control lines; its lifetime is the rule under test.
        var stored = new CachedResponse(status, "X"u8, Fields(fields), [], new CacheTimes(Now, Now, Now, 0, 0), defaultTtl: null);

        Assert.Equal(expected, stored.Times.FreshnessLifetime);
    }

    [Fact]
    public void FreshnessLifetime_UsesTheRoutesDefaultTtl_OnlyWhereAHeuristicIsAllowed()
    {
        Assert.Equal(30, CachePolicy.FreshnessLifetime(CacheDirectives.None, [], 200, Now, TimeSpan.FromSeconds(30)));
        Assert.Equal(0, CachePolicy.FreshnessLifetime(CacheDirectives.None, [], 302, Now, TimeSpan.FromSeconds(30)));
        Assert.Equal(0, CachePolicy.FreshnessLifetime(CacheDirectives.Parse("max-age=0"u8), [], 200, Now, TimeSpan.FromSeconds(30)));
    }

    [Theory]
    [InlineData(100, 102, 100, 0, 110, 10)]  // apparent age 2 and corrected Age 0 + delay 2: 2, plus 8 resident
    [InlineData(100, 100, 90, 0, 100, 10)]   // apparent age: response time minus Date
    [InlineData(100, 100, 100, 30, 100, 30)] // the upstream's Age
    [InlineData(100, 105, 100, 30, 115, 45)] // Age plus response delay (35) beats apparent age (5); resident 10
    [InlineData(100, 100, 200, 0, 100, 0)]   // a Date in the future is no negative age
    public void CurrentAge_FollowsSection4_2_3(long requestTime, long responseTime, long date, long ageValue, long now, long expected)
    {
        Assert.Equal(expected, new CacheTimes(requestTime, responseTime, date, ageValue, 0).CurrentAge(now));
    }

    public static TheoryData<string, string, string, StoreRefusal> Storability => new()
    {
        { "GET", "", "Cache-Control: max-age=60\r\n", StoreRefusal.None },
        { "POST", "", "Cache-Control: max-age=60\r\n", StoreRefusal.Method },
        { "GET", "", "Cache-Control: no-store\r\n", StoreRefusal.NoStore },                           // §5.2.2.5
        { "GET", "Cache-Control: no-store\r\n", "Cache-Control: max-age=60\r\n", StoreRefusal.NoStore }, // §5.2.1.5
        { "GET", "", "Cache-Control: no-store, must-understand, max-age=60\r\n", StoreRefusal.None },  // §5.2.2.3
        { "GET", "", "Cache-Control: private\r\n", StoreRefusal.Private },                            // §5.2.2.7
        { "GET", "Authorization: Bearer x\r\n", "Cache-Control: max-age=60\r\n", StoreRefusal.Authorization }, // §3.5
        { "GET", "Authorization: Bearer x\r\n", "Cache-Control: s-maxage=60\r\n", StoreRefusal.None },
        { "GET", "Authorization: Bearer x\r\n", "Cache-Control: must-revalidate\r\n", StoreRefusal.None },
        { "GET", "", "Vary: Accept, *\r\n", StoreRefusal.VaryAny },
        { "GET", "", "Set-Cookie: a=1\r\nCache-Control: max-age=60\r\n", StoreRefusal.SetCookie },
        { "GET", "Range: bytes=0-1\r\n", "Cache-Control: max-age=60\r\n", StoreRefusal.Partial },
        { "GET", "", "", StoreRefusal.None },                                                         // 200 is heuristically cacheable
    };

    [Theory]
    [MemberData(nameof(Storability))]
    public void MayStore_FollowsSection3(string method, string requestFields, string responseFields, StoreRefusal expected)
    {
        RequestHead request = Request(requestFields, method);
        ResponseHead response = Response(responseFields);

        Assert.Equal(expected, CachePolicy.MayStore(request, CacheDirectives.Parse(request), response, CacheDirectives.Parse(response), storeSetCookie: false));
    }

    [Theory]
    [InlineData(302, "", StoreRefusal.NoFreshness)]                 // §3: no explicit freshness, not heuristically cacheable
    [InlineData(302, "Cache-Control: max-age=5\r\n", StoreRefusal.None)]
    [InlineData(500, "Cache-Control: max-age=5\r\n", StoreRefusal.Status)] // not a status this cache understands
    [InlineData(404, "", StoreRefusal.None)]
    public void MayStore_ByStatus(int status, string fields, StoreRefusal expected)
    {
        RequestHead request = Request();
        ResponseHead response = Response(fields, status);

        Assert.Equal(expected, CachePolicy.MayStore(request, CacheDirectives.None, response, CacheDirectives.Parse(response), storeSetCookie: false));
    }

    private static CachedResponse Stored(string fields, long lifetime, long storedAt) =>
        new(200, "OK"u8, Fields(fields), [], new CacheTimes(storedAt, storedAt, storedAt, 0, lifetime), TimeSpan.FromSeconds(lifetime));

    [Theory]
    [InlineData("", "", 50, Reuse.Fresh)]
    [InlineData("", "", 150, Reuse.Validate)]
    [InlineData("no-cache", "", 10, Reuse.Validate)]                       // §5.2.1.4
    [InlineData("", "Cache-Control: no-cache\r\n", 10, Reuse.Validate)]    // §5.2.2.4
    [InlineData("max-age=5", "", 10, Reuse.Validate)]                       // §5.2.1.1
    [InlineData("min-fresh=60", "", 50, Reuse.Validate)]                    // §5.2.1.3: 50 left
    [InlineData("min-fresh=40", "", 50, Reuse.Fresh)]
    [InlineData("max-stale=100", "", 150, Reuse.AllowedStale)]              // §5.2.1.2
    [InlineData("max-stale", "", 100_000, Reuse.AllowedStale)]
    [InlineData("max-stale=10", "", 150, Reuse.Validate)]
    [InlineData("max-stale", "Cache-Control: must-revalidate\r\n", 150, Reuse.Validate)]   // §5.2.2.2
    [InlineData("max-stale", "Cache-Control: proxy-revalidate\r\n", 150, Reuse.Validate)]  // §5.2.2.8
    public void Decide_FollowsSection4_2_AndTheRequestDirectives(string requestDirectives, string responseFields, long age, Reuse expected)
    {
        CachedResponse stored = Stored(responseFields, lifetime: 100, storedAt: Now - age);
        CacheDirectives request = requestDirectives.Length == 0 ? CacheDirectives.None : CacheDirectives.Parse(Encoding.ASCII.GetBytes(requestDirectives));

        Assert.Equal(expected, CachePolicy.Decide(stored, request, pragmaNoCache: false, Now));
    }

    [Fact]
    public void PragmaNoCache_CountsOnlyWithoutCacheControl()
    {
        CachedResponse stored = Stored("", lifetime: 100, storedAt: Now);

        Assert.Equal(Reuse.Validate, CachePolicy.Decide(stored, CacheDirectives.None, pragmaNoCache: true, Now));
        Assert.Equal(Reuse.Fresh, CachePolicy.Decide(stored, CacheDirectives.Parse("max-stale=1"u8), pragmaNoCache: true, Now));
    }

    [Theory]
    [InlineData("\"a\"", "\"a\"", true)]
    [InlineData("W/\"a\"", "\"a\"", true)]   // RFC 9110 §8.8.3.2: weak comparison
    [InlineData("\"a\"", "\"b\"", false)]
    public void WeakMatch(string a, string b, bool expected) => Assert.Equal(expected, CachePolicy.WeakMatch(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b)));

    [Theory]
    [InlineData("If-None-Match: \"x\", W/\"e\"\r\n", true)]
    [InlineData("If-None-Match: *\r\n", true)]
    [InlineData("If-None-Match: \"x\"\r\nIf-Modified-Since: Sun, 06 Nov 2044 08:49:37 GMT\r\n", false)] // §13.1.3: ignored with If-None-Match
    [InlineData("If-Modified-Since: Sun, 06 Nov 2044 08:49:37 GMT\r\n", true)]
    [InlineData("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n", false)]
    public void NotModified_EvaluatesTheClientsPrecondition(string fields, bool expected)
    {
        CachedResponse stored = Stored("ETag: \"e\"\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT", lifetime: 100, storedAt: Now);

        Assert.Equal(expected, CachePolicy.NotModified(Request(fields), stored));
    }
}
