using System.Net;
using HyperGate.Configuration;
using HyperGate.Upstreams.Discovery;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.Upstreams.Discovery;

public class DnsMessageTests
{
    /// <summary>A response to <paramref name="query"/> with the given answer records (owner names compressed to the question's).</summary>
    private static byte[] Response(byte[] query, int responseCode, params (ushort Type, uint Ttl, byte[] Data)[] answers)
    {
        var response = new List<byte>(query[..2]) { 0x81, (byte)(0x80 | responseCode), 0, 1, 0, (byte)answers.Length, 0, 0, 0, 0 };
        response.AddRange(query[12..]);
        foreach ((ushort type, uint ttl, byte[] data) in answers)
        {
            response.AddRange([0xC0, 12, (byte)(type >> 8), (byte)type, 0, 1, (byte)(ttl >> 24), (byte)(ttl >> 16), (byte)(ttl >> 8), (byte)ttl, (byte)(data.Length >> 8), (byte)data.Length]);
            response.AddRange(data);
        }

        return [.. response];
    }

    [Fact]
    public void Query_EncodesTheNameAsLabels_WithRecursionDesired()
    {
        byte[] query = DnsMessage.Query(0x1234, "orders.example.com", DnsRecordType.Srv);

        Assert.Equal([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0], query[..12]);
        Assert.Equal("\u0006orders\u0007example\u0003com\0"u8.ToArray(), query[12..32]);
        Assert.Equal([0, 33, 0, 1], query[32..]);
    }

    [Fact]
    public void Parse_ReadsAddressesAndTheirTtls()
    {
        byte[] query = DnsMessage.Query(7, "a.test", DnsRecordType.A);
        byte[] response = Response(query, 0, (1, 30, [10, 0, 0, 5]), (1, 60, [10, 0, 0, 6]), (28, 90, IPAddress.IPv6Loopback.GetAddressBytes()));

        Assert.True(DnsMessage.TryParse(response, 7, out DnsAnswer? answer));
        Assert.Equal([(IPAddress.Parse("10.0.0.5"), TimeSpan.FromSeconds(30)), (IPAddress.Parse("10.0.0.6"), TimeSpan.FromSeconds(60)), (IPAddress.IPv6Loopback, TimeSpan.FromSeconds(90))], answer!.Addresses);
    }

    [Fact]
    public void Parse_ReadsServices_FollowingACompressedTargetName()
    {
        byte[] query = DnsMessage.Query(9, "_http._tcp.a.test", DnsRecordType.Srv);

        // The target "node.a.test" is written as "node" plus a pointer to "a.test" inside the question (offset 12 + 11).
        byte[] data = [0, 10, 0, 3, 0x1F, 0x90, 4, (byte)'n', (byte)'o', (byte)'d', (byte)'e', 0xC0, 23];
        Assert.True(DnsMessage.TryParse(Response(query, 0, (33, 20, data)), 9, out DnsAnswer? answer));

        Assert.Equal([new SrvRecord(10, 3, 8080, "node.a.test", TimeSpan.FromSeconds(20))], answer!.Services);
    }

    [Fact]
    public void Parse_KeepsTheNameError_WithNoRecords()
    {
        byte[] query = DnsMessage.Query(3, "gone.test", DnsRecordType.A);

        Assert.True(DnsMessage.TryParse(Response(query, 3), 3, out DnsAnswer? answer));
        Assert.Equal(DnsAnswer.NameError, answer!.ResponseCode);
        Assert.Empty(answer.Addresses);
    }

    [Fact]
    public void Parse_RefusesAnotherQuerysAnswer_TruncatedMessages_AndPointerLoops()
    {
        byte[] query = DnsMessage.Query(5, "a.test", DnsRecordType.A);
        byte[] response = Response(query, 0, (1, 30, [10, 0, 0, 5]));

        Assert.False(DnsMessage.TryParse(response, 6, out _));
        Assert.False(DnsMessage.TryParse(query, 5, out _));
        Assert.All(Enumerable.Range(12, response.Length - 13), length => Assert.False(DnsMessage.TryParse(response.AsSpan(0, length), 5, out _)));

        byte[] loop = Response(query, 0, (33, 30, [0, 0, 0, 0, 0, 80, 0xC0, 0]));
        int target = loop.Length - 2;
        loop[target] = (byte)(0xC0 | (target >> 8));
        loop[target + 1] = (byte)target;
        Assert.False(DnsMessage.TryParse(loop, 5, out _));
    }

    [Fact]
    public async Task Resolver_AnswersFromTheHostsFile_WithoutAnyServer()
    {
        string hosts = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(hosts, "127.0.0.1 localhost\n# 10.9.9.9 commented.test\n10.1.2.3\tapi.test api # trailing\n");
            var resolver = new DnsResolver(DnsSettings.Default, new FakeTimeProvider(), hosts, resolvConf: "/nonexistent");

            (IReadOnlyList<IPAddress> addresses, TimeSpan ttl) = await resolver.ResolveAsync("API.test");

            Assert.Equal([IPAddress.Parse("10.1.2.3")], addresses);
            Assert.Equal(DnsSettings.Default.MaxTtl, ttl);
            await Assert.ThrowsAsync<DnsResolutionException>(() => resolver.ResolveAsync("commented.test"));
        }
        finally
        {
            File.Delete(hosts);
        }
    }
}

public class TargetsFileTests
{
    [Theory]
    [InlineData("targets.json", "[\"10.0.0.1:80\", { \"address\": \"10.0.0.2:80\", \"weight\": 3 }]")]
    [InlineData("targets.json", "{ \"targets\": [\"10.0.0.1:80\", { \"address\": \"10.0.0.2:80\", \"weight\": 3 }] }")]
    [InlineData("targets.toml", "targets = [\"10.0.0.1:80\", { address = \"10.0.0.2:80\", weight = 3 }]")]
    public void Read_AcceptsJsonAndToml(string name, string text)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory().FullName, name);
        File.WriteAllText(path, text);

        IReadOnlyList<TargetConfig> targets = TargetsFile.Read(path);

        Assert.Equal([("10.0.0.1:80", 1), ("10.0.0.2:80", 3)], targets.Select(t => (t.Address, t.Weight)));
    }

    [Theory]
    [InlineData("targets.json", "[\"10.0.0.1:80\", \"nope\", { \"address\": \"10.0.0.2:80\", \"weight\": 0 }]", 2)]
    [InlineData("targets.json", "[\"10.0.0.1:80\"", 1)]
    [InlineData("targets.toml", "targets = [\"nope\"]\ntarget = 1", 2)]
    public void Read_RefusesABrokenFile_WithEveryError(string name, string text, int errors)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory().FullName, name);
        File.WriteAllText(path, text);

        ConfigException refused = Assert.Throws<ConfigException>(() => TargetsFile.Read(path));

        Assert.Equal(errors, refused.Errors.Count);
        Assert.All(refused.Errors, e => Assert.Equal(path, e.Location.File));
    }
}
