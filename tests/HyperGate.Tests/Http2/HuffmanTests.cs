using HyperGate.Http2.Hpack;

namespace HyperGate.Tests.Http2;

/// <summary>RFC 7541 §5.2 and Appendix B.</summary>
public sealed class HuffmanTests
{
    [Fact]
    public void TheCode_IsComplete_EveryPrefixOfBitsLeadsToASymbol()
    {
        // A complete prefix code fills the code space exactly (Kraft's sum is 1).
        double sum = Enumerable.Range(0, 257).Sum(symbol => Math.Pow(2, -Huffman.CodeOf(symbol).Length));
        Assert.Equal(1.0, sum, 12);
    }

    [Theory]
    [InlineData('0', 0x0u, 5)]
    [InlineData('a', 0x3u, 5)]
    [InlineData(' ', 0x14u, 6)]
    [InlineData(':', 0x5cu, 7)]
    [InlineData('&', 0xf8u, 8)]
    [InlineData('!', 0x3f8u, 10)]
    [InlineData(0, 0x1ff8u, 13)]
    [InlineData(1, 0x7fffd8u, 23)]
    [InlineData(10, 0x3ffffffcu, 30)]
    [InlineData(255, 0x3ffffeeu, 26)]
    [InlineData(Huffman.EndOfString, 0x3fffffffu, 30)]
    public void Codes_AreAppendixB(int symbol, uint code, int length) => Assert.Equal((code, length), Huffman.CodeOf(symbol));

    [Theory]
    [InlineData("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff")]
    [InlineData("no-cache", "a8eb10649cbf")]
    [InlineData("custom-key", "25a849e95ba97d7f")]
    [InlineData("custom-value", "25a849e95bb8e8b4bf")]
    [InlineData("302", "6402")]
    [InlineData("private", "aec3771a4b")]
    [InlineData("Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff")]
    [InlineData("https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3")]
    public void Strings_EncodeAndDecode_AsAppendixC(string text, string hex)
    {
        byte[] plain = System.Text.Encoding.ASCII.GetBytes(text);
        byte[] encoded = new byte[Huffman.EncodedLength(plain)];
        Assert.Equal(encoded.Length, Huffman.Encode(plain, encoded));
        Assert.Equal(hex, Convert.ToHexStringLower(encoded));

        byte[] decoded = new byte[plain.Length * 2];
        Assert.True(Huffman.TryDecode(encoded, decoded, out int written));
        Assert.Equal(text, System.Text.Encoding.ASCII.GetString(decoded, 0, written));
    }

    [Fact]
    public void EveryByte_RoundTrips()
    {
        byte[] all = [.. Enumerable.Range(0, 256).Select(i => (byte)i)];
        byte[] encoded = new byte[Huffman.EncodedLength(all)];
        Huffman.Encode(all, encoded);
        byte[] decoded = new byte[256];
        Assert.True(Huffman.TryDecode(encoded, decoded, out int written));
        Assert.Equal(all, decoded[..written]);
    }

    [Theory]
    [InlineData("1f", true)]           // 'a' (00011) and 111 of padding
    [InlineData("18", false)]          // 'a' and 000: padding must be the EOS prefix
    [InlineData("ff", false)]          // 8 bits of padding and no symbol
    [InlineData("fffffffc", false)]    // the EOS symbol itself
    [InlineData("", true)]
    public void Padding_IsAtMostSevenOnes(string hex, bool valid)
    {
        byte[] decoded = new byte[16];
        Assert.Equal(valid, Huffman.TryDecode(Convert.FromHexString(hex), decoded, out _));
    }
}
