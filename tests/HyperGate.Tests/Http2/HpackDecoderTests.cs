using HyperGate.Http2.Hpack;

namespace HyperGate.Tests.Http2;

/// <summary>RFC 7541 Appendix C, example by example, and the ways a block can be invalid.</summary>
public sealed class HpackDecoderTests
{
    private sealed class Fields : IHeaderFieldSink
    {
        public List<string> Lines { get; } = [];

        public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) =>
            Lines.Add($"{System.Text.Encoding.Latin1.GetString(name)}: {System.Text.Encoding.Latin1.GetString(value)}");
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    private static List<string> Decode(HpackDecoder decoder, string hex)
    {
        var fields = new Fields();
        Assert.Equal(HpackResult.Ok, decoder.Decode(Hex(hex), fields));
        return fields.Lines;
    }

    private static List<string> Table(HpackDecoder decoder) =>
        [.. Enumerable.Range(1, decoder.Table.Count).Select(i => decoder.Table[i]).Select(e =>
            $"{System.Text.Encoding.Latin1.GetString(e.Name.Span)}: {System.Text.Encoding.Latin1.GetString(e.Value.Span)}")];

    [Theory]
    [InlineData("0a", 5, 10)]        // C.1.1
    [InlineData("1f9a0a", 5, 1337)]  // C.1.2
    [InlineData("2a", 8, 42)]        // C.1.3
    public void Integers_DecodeAndEncode_AsAppendixC1(string hex, int prefix, int value)
    {
        ReadOnlySpan<byte> bytes = Hex(hex);
        Assert.True(HpackDecoder.TryReadInteger(ref bytes, prefix, out int decoded));
        Assert.Equal(value, decoded);
        Assert.True(bytes.IsEmpty);

        byte[] encoded = new byte[8];
        int length = HpackEncoder.WriteInteger(value, prefix, 0, encoded);
        Assert.Equal(hex, Convert.ToHexStringLower(encoded, 0, length));
    }

    [Fact]
    public void C2_LiteralsAndIndexed_UpdateTheTableOnlyWhenIndexed()
    {
        var decoder = new HpackDecoder(4096, 8192);
        Assert.Equal(["custom-key: custom-header"], Decode(decoder, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
        Assert.Equal(55, decoder.Table.Size);

        decoder = new HpackDecoder(4096, 8192);
        Assert.Equal([":path: /sample/path"], Decode(decoder, "040c 2f73 616d 706c 652f 7061 7468"));
        Assert.Equal(0, decoder.Table.Count);
        Assert.Equal(["password: secret"], Decode(decoder, "1008 7061 7373 776f 7264 0673 6563 7265 74"));
        Assert.Equal(0, decoder.Table.Count);
        Assert.Equal([":method: GET"], Decode(decoder, "82"));
        Assert.Equal(0, decoder.Table.Count);
    }

    [Theory]
    [InlineData(false)] // C.3: plain strings
    [InlineData(true)]  // C.4: the same requests, Huffman-coded
    public void C3AndC4_ThreeRequests_ShareOneDynamicTable(bool huffman)
    {
        string[] blocks = huffman
            ? ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf", "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"]
            : ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", "8286 84be 5808 6e6f 2d63 6163 6865", "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"];
        var decoder = new HpackDecoder(4096, 8192);

        Assert.Equal([":method: GET", ":scheme: http", ":path: /", ":authority: www.example.com"], Decode(decoder, blocks[0]));
        Assert.Equal([":authority: www.example.com"], Table(decoder));
        Assert.Equal(57, decoder.Table.Size);

        Assert.Equal([":method: GET", ":scheme: http", ":path: /", ":authority: www.example.com", "cache-control: no-cache"], Decode(decoder, blocks[1]));
        Assert.Equal(["cache-control: no-cache", ":authority: www.example.com"], Table(decoder));
        Assert.Equal(110, decoder.Table.Size);

        Assert.Equal([":method: GET", ":scheme: https", ":path: /index.html", ":authority: www.example.com", "custom-key: custom-value"], Decode(decoder, blocks[2]));
        Assert.Equal(["custom-key: custom-value", "cache-control: no-cache", ":authority: www.example.com"], Table(decoder));
        Assert.Equal(164, decoder.Table.Size);
    }

    [Theory]
    [InlineData(false)] // C.5
    [InlineData(true)]  // C.6
    public void C5AndC6_ThreeResponses_EvictOldestEntriesFromA256ByteTable(bool huffman)
    {
        string[] blocks = huffman
            ?
            [
                "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                "4883 640e ffc1 c0bf",
                "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            ]
            :
            [
                "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "4803 3330 37c1 c0bf",
                "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
            ];
        var decoder = new HpackDecoder(256, 8192);

        Assert.Equal([":status: 302", "cache-control: private", "date: Mon, 21 Oct 2013 20:13:21 GMT", "location: https://www.example.com"], Decode(decoder, blocks[0]));
        Assert.Equal(222, decoder.Table.Size);

        Assert.Equal([":status: 307", "cache-control: private", "date: Mon, 21 Oct 2013 20:13:21 GMT", "location: https://www.example.com"], Decode(decoder, blocks[1]));
        Assert.Equal([":status: 307", "location: https://www.example.com", "date: Mon, 21 Oct 2013 20:13:21 GMT", "cache-control: private"], Table(decoder));
        Assert.Equal(222, decoder.Table.Size);

        Assert.Equal(
            [":status: 200", "cache-control: private", "date: Mon, 21 Oct 2013 20:13:22 GMT", "location: https://www.example.com", "content-encoding: gzip",
             "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"],
            Decode(decoder, blocks[2]));
        Assert.Equal(["set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1", "content-encoding: gzip", "date: Mon, 21 Oct 2013 20:13:22 GMT"], Table(decoder));
        Assert.Equal(215, decoder.Table.Size);
    }

    [Theory]
    [InlineData("80", "index 0 names nothing (§6.1)")]
    [InlineData("be", "index 62: the dynamic table is empty")]
    [InlineData("3fe21f", "a size update above the announced maximum (§6.3)")]
    [InlineData("82 20", "a size update after a field (§4.2)")]
    [InlineData("400a 6375 7374", "a string cut short")]
    [InlineData("ffffffffff7f", "an integer past any bound")]
    [InlineData("0085 ffffffffff", "a Huffman string that is all EOS prefix: padding past 7 bits (§5.2)")]
    [InlineData("0081 18", "Huffman padding of zeros, not the EOS prefix (§5.2)")]
    [InlineData("00", "a literal with no name string")]
    public void InvalidBlocks_AreRefused(string hex, string why)
    {
        var decoder = new HpackDecoder(4096, 8192);
        Assert.True(HpackResult.Invalid == decoder.Decode(Hex(hex), new Fields()), why);
    }

    [Fact]
    public void SizeUpdates_AtTheStart_ShrinkAndEmptyTheTable()
    {
        var decoder = new HpackDecoder(4096, 8192);
        Decode(decoder, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
        Assert.Equal(1, decoder.Table.Count);

        // Two updates before the first field: to 0 (evicting everything), then back to 4096 (§4.2 allows both).
        Assert.Equal([":method: GET"], Decode(decoder, "20 3fe11f 82"));
        Assert.Equal(0, decoder.Table.Count);
        Assert.Equal(4096, decoder.Table.MaxSize);
    }

    [Fact]
    public void AnEntryLargerThanTheTable_EmptiesIt_AndIsNotAdded()
    {
        var decoder = new HpackDecoder(64, 8192);
        Decode(decoder, "4001 61 0162"); // a: b, 34 bytes
        Assert.Equal(1, decoder.Table.Count);

        // 40 bytes of value: 1 + 40 + 32 > 64 (§4.4).
        Assert.Equal(["a: " + new string('x', 40)], Decode(decoder, "4001 61 28" + Convert.ToHexString(new byte[40].Select(_ => (byte)'x').ToArray())));
        Assert.Equal(0, decoder.Table.Count);
        Assert.Equal(0, decoder.Table.Size);
    }

    [Fact]
    public void ManyInsertions_WrapTheTableStorage_AndKeepNewestFirst()
    {
        var decoder = new HpackDecoder(256, 8192);
        for (int i = 0; i < 200; i++)
        {
            string value = $"value-{i:D3}";
            Decode(decoder, "40 03 6b6579 " + Convert.ToHexString([(byte)value.Length]) + Convert.ToHexString(System.Text.Encoding.ASCII.GetBytes(value)));
        }

        // Each entry is 3 + 9 + 32 = 44 bytes: five fit in 256.
        Assert.Equal(["key: value-199", "key: value-198", "key: value-197", "key: value-196", "key: value-195"], Table(decoder));
        Assert.Equal(["key: value-198"], Decode(decoder, "bf"));
    }

    [Fact]
    public void AStringLongerThanTheBound_IsTooLarge_NotInvalid()
    {
        var decoder = new HpackDecoder(4096, 16);
        string hex = "0001 61 11" + Convert.ToHexString(new byte[17].Select(_ => (byte)'x').ToArray());
        Assert.Equal(HpackResult.TooLarge, decoder.Decode(Hex(hex), new Fields()));
    }

    [Fact]
    public void TheEncoder_WritesBlocksTheDecoderReadsBack()
    {
        byte[] block = new byte[512];
        int length = HpackEncoder.WriteStatus(200, block);
        length += HpackEncoder.WriteStatus(418, block.AsSpan(length));
        length += HpackEncoder.WriteField("content-type"u8, "application/json"u8, block.AsSpan(length));
        length += HpackEncoder.WriteField("x-custom"u8, "Some Value With Spaces"u8, block.AsSpan(length));
        length += HpackEncoder.WriteField("x-empty"u8, ""u8, block.AsSpan(length));

        var decoder = new HpackDecoder(4096, 8192);
        var fields = new Fields();
        Assert.Equal(HpackResult.Ok, decoder.Decode(block.AsSpan(0, length), fields));
        Assert.Equal([":status: 200", ":status: 418", "content-type: application/json", "x-custom: Some Value With Spaces", "x-empty: "], fields.Lines);
        Assert.Equal(0, decoder.Table.Count); // nothing the encoder writes is indexed
    }
}
