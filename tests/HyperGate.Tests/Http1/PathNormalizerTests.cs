using System.Text;
using HyperGate.Http1;

namespace HyperGate.Tests.Http1;

public class PathNormalizerTests
{
    [Theory]
    [InlineData("/", "/")]
    [InlineData("", "/")]
    [InlineData("/users", "/users")]
    [InlineData("/users/", "/users/")]
    [InlineData("//admin", "/admin")]
    [InlineData("/a//b///c", "/a/b/c")]
    [InlineData("/x/../admin", "/admin")]
    [InlineData("/admin/.", "/admin/")]
    [InlineData("/admin/./x", "/admin/x")]
    [InlineData("/a/b/../../..", "/")]
    [InlineData("/../../etc", "/etc")]
    [InlineData("/%61dmin", "/admin")]
    [InlineData("/%2e%2e/admin", "/admin")]
    [InlineData("/a/%2E%2E/admin", "/admin")]
    [InlineData("/a%7e%5fb", "/a~_b")]
    [InlineData("/a%20b", "/a%20b")]
    [InlineData("/a%3fb", "/a%3Fb")]
    [InlineData("/..x/.y", "/..x/.y")]
    public void Normalize_ProducesCanonicalPath(string input, string expected)
    {
        Assert.Equal(RejectionReason.None, Normalize(input, out string output));
        Assert.Equal(expected, output);
    }

    [Theory]
    [InlineData("/a%2fb", "/a%2Fb")]
    [InlineData("/files/a%2F..%2Fadmin", "/files/a%2F..%2Fadmin")]
    [InlineData("/admin%2F..", "/admin%2F..")]
    [InlineData("/x/..%2f../y", "/x/..%2F../y")]
    [InlineData("/a%5cb/../c", "/c")]
    [InlineData("//a%2F/./b", "/a%2F/b")]
    public void Normalize_EncodedSlash_StaysEncodedInItsSegmentAndIsReported(string input, string expected)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(input);
        var buffer = new byte[bytes.Length + 1];
        Assert.Equal(RejectionReason.None, PathNormalizer.Normalize(bytes, buffer, out int written, out bool hasEncodedSlash));
        Assert.Equal(expected, Encoding.ASCII.GetString(buffer, 0, written));
        Assert.True(hasEncodedSlash);
    }

    [Theory]
    [InlineData("/a%00", RejectionReason.EncodedNul)]
    [InlineData("/a%", RejectionReason.InvalidPercentEncoding)]
    [InlineData("/a%4", RejectionReason.InvalidPercentEncoding)]
    [InlineData("/a%zz", RejectionReason.InvalidPercentEncoding)]
    public void Normalize_DangerousEncoding_IsRejected(string input, RejectionReason expected)
    {
        Assert.Equal(expected, Normalize(input, out _));
    }

    [Fact]
    public void Normalize_IsIdempotent()
    {
        foreach (string path in new[] { "/a/./b/../c//d/", "/%61%62/../%63", "/x/y/z/..", "/" })
        {
            Normalize(path, out string once);
            Normalize(once, out string twice);
            Assert.Equal(once, twice);
        }
    }

    private static RejectionReason Normalize(string input, out string output)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(input);
        var buffer = new byte[bytes.Length + 1];
        RejectionReason reason = PathNormalizer.Normalize(bytes, buffer, out int written, out bool hasEncodedSlash);
        output = Encoding.ASCII.GetString(buffer, 0, written);
        Assert.False(hasEncodedSlash);
        return reason;
    }
}
