using System.Buffers;
using System.Text;
using HyperGate.Transforms.Json;

namespace HyperGate.Tests.Transforms;

/// <summary>The streaming JSON transform: each rule kind, wildcards, what is kept as written, errors, and blocks of any size.</summary>
public class JsonTransformerTests
{
    private static JsonPointerPath P(string text) => JsonPointerPath.Parse(text, out _)!;

    private static JsonBodyTransform Rules(params JsonRule[] rules) => new(rules, long.MaxValue, failOnInvalid: false);

    private static JsonRule Remove(string path) => new(JsonRuleKind.Remove, P(path));

    private static JsonRule Allow(string path) => new(JsonRuleKind.Allow, P(path));

    private static JsonRule Rename(string from, string to) => new(JsonRuleKind.Rename, P(from), NewName: P(to).Segments[^1]);

    private static JsonRule Set(string path, string json) => new(JsonRuleKind.Set, P(path), Value: new JsonSetValue(Encoding.UTF8.GetBytes(json), null));

    /// <summary>Transforms in blocks of <paramref name="blockSize"/> bytes, keeping the unread tail as the gateway's window would.</summary>
    private static string Run(JsonBodyTransform transform, string json, int blockSize = int.MaxValue)
    {
        byte[] input = Encoding.UTF8.GetBytes(json);
        var output = new ArrayBufferWriter<byte>();
        using var transformer = new JsonTransformer(transform, exchange: null, output);
        var window = new List<byte>();
        for (int offset = 0; offset < input.Length || window.Count > 0;)
        {
            int take = Math.Min(blockSize, input.Length - offset);
            window.AddRange(input.AsSpan(offset, take).ToArray());
            offset += take;
            bool final = offset == input.Length;
            Assert.True(transformer.Transform(window.ToArray(), final, out int consumed), transformer.Error?.Message);
            window.RemoveRange(0, consumed);
            if (final)
            {
                break;
            }
        }

        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    [Theory]
    [InlineData("""{"user_name":"alice","age":3}""", """{"username":"alice","age":3}""")]
    [InlineData("""{"age":3}""", """{"age":3}""")]
    [InlineData("""{"profile":{"user_name":"x"}}""", """{"profile":{"user_name":"x"}}""")]
    public void Rename_OnlyTheNamedField(string input, string expected) =>
        Assert.Equal(expected, Run(Rules(Rename("/user_name", "/username")), input));

    [Fact]
    public void Remove_DropsFieldsAndTheirSubtrees_ThroughArrayWildcards()
    {
        string input = """{"password":"p","items":[{"id":1,"card_number":"4111","extra":{"a":[1,2]}},{"id":2,"card_number":"5500"}],"keep":{"password":"inner"}}""";
        string output = Run(Rules(Remove("/password"), Remove("/items/*/card_number"), Remove("/items/*/extra")), input);
        Assert.Equal("""{"items":[{"id":1},{"id":2}],"keep":{"password":"inner"}}""", output);
    }

    [Fact]
    public void Remove_AnArrayElementByIndex()
    {
        Assert.Equal("""{"a":[0,2]}""", Run(Rules(Remove("/a/1")), """{"a":[0,1,2]}"""));
    }

    [Fact]
    public void Allow_KeepsOnlyTheNamedFields_TheirAncestors_AndTheirSubtrees()
    {
        string input = """{"id":7,"name":"n","secret":"s","address":{"city":"c","street":"s"},"orders":[{"id":1,"total":2,"card":"x"}],"meta":{"a":{"b":1}}}""";
        string output = Run(Rules(Allow("/id"), Allow("/address/city"), Allow("/orders/*/id"), Allow("/meta")), input);
        Assert.Equal("""{"id":7,"address":{"city":"c"},"orders":[{"id":1}],"meta":{"a":{"b":1}}}""", output);
    }

    [Fact]
    public void Set_ReplacesAnExistingField_OrAddsItToItsObject_ButNeverCreatesParents()
    {
        JsonBodyTransform transform = Rules(Set("/source", "\"gateway\""), Set("/meta/version", "2"), Set("/absent/x", "true"));
        Assert.Equal("""{"source":"gateway","meta":{"a":1,"version":2}}""", Run(transform, """{"source":"client","meta":{"a":1}}"""));
        Assert.Equal("""{"n":1,"source":"gateway"}""", Run(transform, """{"n":1}"""));
    }

    [Fact]
    public void RemoveWinsOverSet_AndRenameAppliesInArrays()
    {
        JsonBodyTransform transform = Rules(Remove("/a"), Set("/a", "1"), Rename("/items/*/user_name", "/items/*/username"));
        Assert.Equal("""{"items":[{"username":"x"},{"username":"y"}],"a":1}""", Run(transform, """{"a":0,"items":[{"user_name":"x"},{"user_name":"y"}]}"""));
    }

    [Theory]
    [InlineData("""{"s":"caf\u00e9 \"q\" \\ <b>","n":-1.50e+3,"t":true,"f":false,"z":null,"e":{},"l":[]}""")]
    [InlineData("""[1,"two",{"three":3},[4]]""")]
    [InlineData("\"scalar\"")]
    [InlineData("42")]
    [InlineData("""{ "spaced" : [ 1 , 2 ] }""")]
    public void Untouched_ValuesKeepTheirSpelling(string input)
    {
        string output = Run(Rules(Remove("/nothing")), input);
        Assert.Equal(System.Text.Json.Nodes.JsonNode.Parse(input)!.ToJsonString(), System.Text.Json.Nodes.JsonNode.Parse(output)!.ToJsonString());
        if (input.Contains("\\u00e9", StringComparison.Ordinal))
        {
            Assert.Contains("caf\\u00e9 \\\"q\\\" \\\\ <b>", output, StringComparison.Ordinal);
            Assert.Contains("-1.50e+3", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void EscapedMemberNames_AreMatchedAsDecodedText()
    {
        Assert.Equal("""{"b":2}""", Run(Rules(Remove("/a~1b")), """{"a\/b":1,"b":2}"""));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    public void SmallBlocks_GiveTheSameResultAsOneBlock(int blockSize)
    {
        string input = """{"user_name":"a long value that spans blocks","items":[{"card_number":"4111111111111111","id":1},{"id":2,"card_number":"x"}],"password":"hunter2"}""";
        JsonBodyTransform transform = Rules(Rename("/user_name", "/username"), Remove("/items/*/card_number"), Remove("/password"), Set("/source", "\"gw\""));
        Assert.Equal(Run(transform, input), Run(transform, input, blockSize));
    }

    [Theory]
    [InlineData("""{"a":1,}""", 1, 8)]
    [InlineData("{\n  \"a\": tru\n}", 2, 11)]
    [InlineData("""{"a":1""", 1, 7)]
    [InlineData("""{"a":1} x""", 1, 9)]
    public void Malformed_SaysWhere(string input, long line, long column)
    {
        var output = new ArrayBufferWriter<byte>();
        using var transformer = new JsonTransformer(Rules(Remove("/a")), exchange: null, output);
        Assert.False(transformer.Transform(Encoding.UTF8.GetBytes(input), final: true, out _));
        Assert.Equal(line, transformer.Error!.Line);
        Assert.Equal(column, transformer.Error.Column);
    }

    [Theory]
    [InlineData("/a/b", true)]
    [InlineData("/items/*/id", true)]
    [InlineData("/a~0b~1c", true)]
    [InlineData("a", false)]
    [InlineData("/", false)]
    [InlineData("/a~2", false)]
    public void Pointers_FollowRfc6901(string text, bool valid) => Assert.Equal(valid, JsonPointerPath.Parse(text, out _) is not null);
}
