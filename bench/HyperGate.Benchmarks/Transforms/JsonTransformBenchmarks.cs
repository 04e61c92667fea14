using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using HyperGate.Transforms.Json;

namespace HyperGate.Benchmarks.Transforms;

/// <summary>
/// The JSON body transform (a rename, a removal in every array element, a removal at the top) against a
/// System.Text.Json DOM round-trip doing the same, on a 0.74 MB document of 2 000 users; and the transform streamed
/// over a 10 MB document (27 200 users) in 64 KiB blocks, whose allocations show the memory stays bounded by the window.
/// Throughput: bytes of input per second (the document's size over the mean time).
/// </summary>
[MemoryDiagnoser]
public class JsonTransformBenchmarks
{
    private const int Block = 64 * 1024;
    private readonly ArrayBufferWriter<byte> _output = new(2 * 1024 * 1024);
    private readonly byte[] _window = new byte[2 * Block];
    private JsonBodyTransform _transform = null!;
    private byte[] _document = [];
    private byte[] _large = [];

    [GlobalSetup]
    public void Setup()
    {
        _document = Document(2_000);
        _large = Document(27_200);
        static JsonPointerPath P(string text) => JsonPointerPath.Parse(text, out _)!;
        _transform = new JsonBodyTransform(
            [
                new JsonRule(JsonRuleKind.Rename, P("/users/*/user_name"), NewName: "username"u8.ToArray()),
                new JsonRule(JsonRuleKind.Remove, P("/users/*/password")),
                new JsonRule(JsonRuleKind.Remove, P("/internal")),
            ],
            long.MaxValue,
            failOnInvalid: false);
    }

    /// <summary>A document of <paramref name="users"/> users, about 370 bytes each.</summary>
    internal static byte[] Document(int users)
    {
        var json = new StringBuilder("""{"internal":{"trace":"x"},"users":[""");
        for (int i = 0; i < users; i++)
        {
            json.Append(i == 0 ? "" : ",").Append($$"""{"id":{{i}},"user_name":"user{{i}}","password":"secret-{{i}}","email":"user{{i}}@example.com","active":true,"score":{{i * 1.5}},"tags":["a","b","c"],"address":{"street":"{{i}} Main Street","city":"Springfield","zip":"{{10000 + i}}"},"bio":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam."}""");
        }

        return Encoding.UTF8.GetBytes(json.Append("]}").ToString());
    }

    [Benchmark(Baseline = true)]
    public int DomRoundTrip()
    {
        JsonNode root = JsonNode.Parse(_document)!;
        root.AsObject().Remove("internal");
        foreach (JsonNode? user in root["users"]!.AsArray())
        {
            JsonObject fields = user!.AsObject();
            JsonNode? name = fields["user_name"];
            fields.Remove("user_name");
            fields["username"] = name;
            fields.Remove("password");
        }

        return Encoding.UTF8.GetByteCount(root.ToJsonString());
    }

    [Benchmark]
    public int Streaming()
    {
        _output.ResetWrittenCount();
        using var transformer = new JsonTransformer(_transform, exchange: null, _output);
        transformer.Transform(_document, final: true, out _);
        return _output.WrittenCount;
    }

    /// <summary>10 MB in 64 KiB blocks through a 128 KiB window; the output is counted and dropped block by block.</summary>
    [Benchmark]
    public long Streaming10MB()
    {
        long written = 0;
        int filled = 0;
        _output.ResetWrittenCount();
        using var transformer = new JsonTransformer(_transform, exchange: null, _output);
        for (int offset = 0; offset < _large.Length || filled > 0;)
        {
            int take = Math.Min(Block, _large.Length - offset);
            _large.AsSpan(offset, take).CopyTo(_window.AsSpan(filled));
            offset += take;
            filled += take;
            bool final = offset == _large.Length;
            transformer.Transform(_window.AsSpan(0, filled), final, out int consumed);
            _window.AsSpan(consumed, filled - consumed).CopyTo(_window);
            filled -= consumed;
            written += _output.WrittenCount;
            _output.ResetWrittenCount();
            if (final)
            {
                break;
            }
        }

        return written;
    }
}
