using HyperGate.Configuration;

namespace HyperGate.Tests.Configuration;

public class UnitsTests
{
    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("10s", 10_000)]
    [InlineData("5m", 300_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData(" 2s ", 2_000)]
    [InlineData("0ms", 0)]
    public void TryParseDuration_ValidText_GivesMilliseconds(string text, long milliseconds)
    {
        Assert.True(Units.TryParseDuration(text, out TimeSpan duration));
        Assert.Equal(milliseconds, (long)duration.TotalMilliseconds);
    }

    [Theory]
    [InlineData("10")]
    [InlineData("ten s")]
    [InlineData("1.5s")]
    [InlineData("-1s")]
    [InlineData("10 seconds")]
    [InlineData("")]
    [InlineData("999999999h")]
    public void TryParseDuration_InvalidText_Fails(string text) => Assert.False(Units.TryParseDuration(text, out _));

    [Theory]
    [InlineData("512", 512)]
    [InlineData("512B", 512)]
    [InlineData("64KB", 64 * 1024)]
    [InlineData("10MB", 10 * 1024 * 1024)]
    [InlineData("10mb", 10 * 1024 * 1024)]
    [InlineData("2MiB", 2 * 1024 * 1024)]
    [InlineData("1GB", 1024L * 1024 * 1024)]
    public void TryParseSize_ValidText_GivesBytes(string text, long bytes)
    {
        Assert.True(Units.TryParseSize(text, out long parsed));
        Assert.Equal(bytes, parsed);
    }

    [Theory]
    [InlineData("10TB")]
    [InlineData("MB")]
    [InlineData("1.5MB")]
    [InlineData("-1KB")]
    [InlineData("99999999999999999GB")]
    public void TryParseSize_InvalidText_Fails(string text) => Assert.False(Units.TryParseSize(text, out _));
}
