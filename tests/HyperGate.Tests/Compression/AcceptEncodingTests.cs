using System.Text;
using HyperGate.Compression;

namespace HyperGate.Tests.Compression;

/// <summary>RFC 9110 §12.5.3 negotiation, with the gateway preferring brotli to gzip on equal weights.</summary>
public class AcceptEncodingTests
{
    private static readonly ContentCoding[] Offered = [ContentCoding.Brotli, ContentCoding.Gzip];

    [Theory]
    [InlineData("gzip", ContentCoding.Gzip)]
    [InlineData("gzip, deflate, br", ContentCoding.Brotli)]
    [InlineData("br;q=0.5, gzip", ContentCoding.Gzip)]
    [InlineData("br;q=0.5, gzip;q=0.5", ContentCoding.Brotli)]
    [InlineData("BR", ContentCoding.Brotli)]
    [InlineData("x-gzip", ContentCoding.Gzip)]
    [InlineData("*", ContentCoding.Brotli)]
    [InlineData("*;q=0.1, gzip;q=0.2", ContentCoding.Gzip)]
    [InlineData("br;q=0, *", ContentCoding.Gzip)]
    [InlineData("gzip;q=0", ContentCoding.None)]
    [InlineData("*;q=0", ContentCoding.None)]
    [InlineData("identity", ContentCoding.None)]
    [InlineData("deflate", ContentCoding.None)]
    [InlineData("", ContentCoding.None)]
    [InlineData("gzip ; q=0.8 , br ; q=0.9", ContentCoding.Brotli)]
    [InlineData("gzip;Q=1", ContentCoding.Gzip)]
    [InlineData("gzip;q=1.5", ContentCoding.None)]
    [InlineData("gzip;q=abc", ContentCoding.None)]
    [InlineData("gzip;q=0.001", ContentCoding.Gzip)]
    [InlineData("gzip;level=1", ContentCoding.Gzip)]
    [InlineData("gzip;q=1.", ContentCoding.Gzip)]
    [InlineData("gzip;q=1.000", ContentCoding.Gzip)]
    [InlineData("gzip;q=0.", ContentCoding.None)]
    [InlineData("gzip;q=0.0001", ContentCoding.None)]
    [InlineData("gzip;q=1.001", ContentCoding.None)]
    [InlineData("gzip;q=.5", ContentCoding.None)]
    [InlineData("br;q=0.999, gzip;q=1", ContentCoding.Gzip)]
    [InlineData("gzip\t;\tq=0.5", ContentCoding.Gzip)]
    public void Choose_ByWeightThenPreference(string field, ContentCoding expected) =>
        Assert.Equal(expected, AcceptEncoding.Choose(Encoding.ASCII.GetBytes(field), Offered));

    [Fact]
    public void Choose_OnlyAmongOffered() =>
        Assert.Equal(ContentCoding.Gzip, AcceptEncoding.Choose("br, gzip"u8, [ContentCoding.Gzip]));
}
