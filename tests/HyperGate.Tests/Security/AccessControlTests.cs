using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using HyperGate.Http1;
using HyperGate.Security;

namespace HyperGate.Tests.Security;

public class AccessControlTests
{
    [Theory]
    [InlineData("10.1.2.3", true)]
    [InlineData("10.9.0.1", false)]
    [InlineData("192.168.0.1", false)]
    [InlineData("::ffff:10.1.2.3", true)]
    [InlineData("fd00::1", true)]
    [InlineData("fd00:bad::1", false)]
    [InlineData("2001:db8::1", false)]
    public void Cidr_AllowedUnlessDenied(string address, bool permitted)
    {
        var filter = new IpFilter(
            [IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("fd00::/8")],
            [IPNetwork.Parse("10.9.0.0/16"), IPNetwork.Parse("fd00:bad::/32")]);

        Assert.Equal(permitted, filter.Permits(IPAddress.Parse(address)));
    }

    [Fact]
    public void DenyOnly_PassesEverythingElse_AndUnknownAddressesFollowTheAllowList()
    {
        var denyOnly = new IpFilter([], [IPNetwork.Parse("203.0.113.0/24")]);
        var allowList = new IpFilter([IPNetwork.Parse("10.0.0.0/8")], []);

        Assert.True(denyOnly.Permits(IPAddress.Parse("198.51.100.1")));
        Assert.False(denyOnly.Permits(IPAddress.Parse("203.0.113.5")));
        Assert.True(denyOnly.Permits(null));
        Assert.False(allowList.Permits(null));
    }

    private static RequestHead Head(string method, params (string Name, string Value)[] headers)
    {
        var request = new RequestHead();
        string text = $"{method} /api HTTP/1.1\r\nHost: a\r\n" + string.Concat(headers.Select(h => $"{h.Name}: {h.Value}\r\n")) + "\r\n";
        RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)), request, HeadLimits.Default, out _, out _, out _);
        return request;
    }

    private static readonly CorsPolicy Policy = new(["https://app.example.com"], ["GET", "PUT"], ["Content-Type", "X-Api-Key"], ["X-Request-Id"], credentials: true, TimeSpan.FromMinutes(10));

    [Theory]
    [InlineData("https://app.example.com", true)]
    [InlineData("https://app.example.com:443", false)]
    [InlineData("https://APP.example.com", false)]
    [InlineData("http://app.example.com", false)]
    [InlineData("null", false)]
    public void Origins_MatchExactly(string origin, bool allowed) =>
        Assert.Equal(allowed, Policy.AllowsOrigin(Encoding.ASCII.GetBytes(origin)));

    [Theory]
    [InlineData("PUT", "content-type, x-api-key", true)]
    [InlineData("GET", null, true)]
    [InlineData("DELETE", null, false)]
    [InlineData("PUT", "content-type, x-secret", false)]
    public void Preflights_CheckMethodAndHeaders(string method, string? headers, bool allowed)
    {
        var fields = new List<(string, string)> { ("Origin", "https://app.example.com"), ("Access-Control-Request-Method", method) };
        if (headers is not null)
        {
            fields.Add(("Access-Control-Request-Headers", headers));
        }

        using RequestHead request = Head("OPTIONS", [.. fields]);

        Assert.True(CorsPolicy.IsPreflight(request));
        Assert.Equal(allowed, Policy.AllowsPreflight(request));
    }

    [Fact]
    public void OptionsWithoutRequestMethod_IsNotAPreflight()
    {
        using RequestHead request = Head("OPTIONS", ("Origin", "https://app.example.com"));
        Assert.False(CorsPolicy.IsPreflight(request));
    }

    [Fact]
    public async Task ResponseFields_EchoTheOrigin_NeverAStarWithCredentials()
    {
        using RequestHead request = Head("GET", ("Origin", "https://app.example.com"));
        var pipe = new Pipe();

        var head = new HeadWriter(pipe.Writer);
        Policy.WriteResponseFields(ref head, request);
        new CorsPolicy(["*"], ["GET"], [], [], credentials: false, TimeSpan.FromMinutes(1)).WriteResponseFields(ref head, request);
        head.Commit();
        await pipe.Writer.FlushAsync();
        pipe.Reader.TryRead(out ReadResult written);
        string text = Encoding.ASCII.GetString(written.Buffer.ToArray());

        Assert.Equal(
            "Access-Control-Allow-Origin: https://app.example.com\r\nVary: Origin\r\nAccess-Control-Expose-Headers: X-Request-Id\r\n" +
            "Access-Control-Allow-Credentials: true\r\nAccess-Control-Allow-Origin: *\r\n",
            text);
    }
}
