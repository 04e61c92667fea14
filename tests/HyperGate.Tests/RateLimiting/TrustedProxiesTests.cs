using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Tests.RateLimiting;

public class TrustedProxiesTests
{
    private static readonly TrustedProxies Proxies = new([IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("fd00::/8")]);

    private static string ClientOf(string peer, params string[] forwardedFor)
    {
        string head = "GET / HTTP/1.1\r\nHost: a\r\n" + string.Concat(forwardedFor.Select(v => $"X-Forwarded-For: {v}\r\n")) + "\r\n";
        using var exchange = new Exchange(new Pipe().Reader, new Pipe().Writer, IPAddress.Parse(peer), isHttps: false);
        RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(head)), exchange.Request, HeadLimits.Default, out _, out _, out _);
        return Encoding.ASCII.GetString(Proxies.ClientAddress(exchange));
    }

    [Theory]
    [InlineData("203.0.113.9", "198.51.100.1", "203.0.113.9")]
    [InlineData("10.0.0.2", "198.51.100.1", "198.51.100.1")]
    [InlineData("10.0.0.2", "1.1.1.1, 198.51.100.1, 10.0.0.7", "198.51.100.1")]
    [InlineData("10.0.0.2", "garbage, 198.51.100.1", "198.51.100.1")]
    [InlineData("10.0.0.2", "198.51.100.1, garbage", "10.0.0.2")]
    [InlineData("10.0.0.2", "10.0.0.9, 10.0.0.8", "10.0.0.9")]
    [InlineData("fd00::1", " 2001:db8::5 ", "2001:db8::5")]
    public void Client_IsTheNearestUntrustedHop(string peer, string forwardedFor, string expected) =>
        Assert.Equal(expected, ClientOf(peer, forwardedFor));

    [Fact]
    public void TrustedPeerWithoutForwardedFor_IsTheClient() => Assert.Equal("10.0.0.2", ClientOf("10.0.0.2"));

    [Fact]
    public void SeveralForwardedForFields_AreReadAsOneListInOrder() =>
        Assert.Equal("198.51.100.2", ClientOf("10.0.0.2", "1.1.1.1, 198.51.100.1", "198.51.100.2, 10.0.0.3"));

    [Fact]
    public void NoTrustedProxies_AlwaysUseThePeer()
    {
        using var exchange = new Exchange(new Pipe().Reader, new Pipe().Writer, IPAddress.Parse("10.0.0.2"), isHttps: false);
        Assert.Equal("10.0.0.2", Encoding.ASCII.GetString(TrustedProxies.None.ClientAddress(exchange)));
    }
}
