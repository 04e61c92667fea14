using System.Text;
using HyperGate.Caching;
using HyperGate.Caching.Fleet;
using Xunit;

namespace HyperGate.Tests.Caching;

public class FleetCodecTests
{
    private static CachedResponse Response() =>
        new(203, "Partial Info"u8, "Cache-Control: max-age=60, stale-if-error=30\r\nETag: \"v7\"\r\nVary: Accept-Language\r\n"u8.ToArray(), "body"u8.ToArray(), new CacheTimes(100, 101, 99, 5, 0), TimeSpan.FromSeconds(30))
        {
            Vary = [("Accept-Language"u8.ToArray(), "de"u8.ToArray()), ("X-Tenant"u8.ToArray(), null)],
            Tags = ["catalog", "product-7"],
            Consumer = "alice",
        };

    [Fact]
    public void AResponse_ComesBackWhole_WithTheClockReadingsItWasStoredWith()
    {
        CachedResponse original = Response();

        CachedResponse decoded = FleetCodec.Decode(FleetCodec.Encode(original))!;

        Assert.Equal(203, decoded.Status);
        Assert.Equal("Partial Info", Encoding.ASCII.GetString(decoded.ReasonPhrase));
        Assert.Equal(original.FieldBlock, decoded.FieldBlock);
        Assert.Equal("body", Encoding.ASCII.GetString(decoded.Body));

        // RFC 9111 §4.2.3: another instance computes the same age and freshness from the same readings.
        Assert.Equal(original.Times, decoded.Times);
        Assert.Equal(original.Times.CurrentAge(200), decoded.Times.CurrentAge(200));
        Assert.Equal(60, decoded.Times.FreshnessLifetime);
        Assert.Equal("\"v7\"", Encoding.ASCII.GetString(decoded.ETag));
        Assert.Equal(TimeSpan.FromSeconds(30), decoded.DefaultTtl);
        Assert.Equal(["catalog", "product-7"], decoded.Tags);
        Assert.True(decoded.IsSameVariant(original));
    }

    [Fact]
    public void TheVariantId_TellsVariantsApart_ByVaryValuesAndConsumer()
    {
        CachedResponse german = Response();
        CachedResponse french = Response() is var r ? new CachedResponse(r.Status, r.ReasonPhrase, r.FieldBlock, r.Body, r.Times, r.DefaultTtl)
        {
            Vary = [("accept-language"u8.ToArray(), "fr"u8.ToArray()), ("x-tenant"u8.ToArray(), null)],
            Consumer = "alice",
        } : null!;
        CachedResponse germanByName = new(200, "OK"u8, [], [], default, null)
        {
            Vary = [("ACCEPT-LANGUAGE"u8.ToArray(), "de"u8.ToArray()), ("x-tenant"u8.ToArray(), null)],
            Consumer = "alice",
        };
        CachedResponse germanForBob = new(200, "OK"u8, [], [], default, null) { Vary = german.Vary, Consumer = "bob" };

        Assert.NotEqual(FleetCodec.VariantId(german), FleetCodec.VariantId(french));
        Assert.Equal(FleetCodec.VariantId(german), FleetCodec.VariantId(germanByName)); // field names are case-insensitive
        Assert.NotEqual(FleetCodec.VariantId(german), FleetCodec.VariantId(germanForBob));
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 2, 0, 0 })]          // a version this build does not read
    [InlineData(new byte[] { 1, 200, 0, 255, 255, 255, 127 })] // a length past the end
    public void AValueThisVersionDidNotWrite_IsSkipped(byte[] value) => Assert.Null(FleetCodec.Decode(value));

    [Fact]
    public void ATruncatedValue_IsSkipped()
    {
        byte[] whole = FleetCodec.Encode(Response());

        Assert.All(Enumerable.Range(0, whole.Length), length => Assert.Null(FleetCodec.Decode(whole[..length])));
    }
}
