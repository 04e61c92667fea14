using System.IO.Compression;
using HyperGate.Compression;

namespace HyperGate.Configuration;

/// <summary><c>compress = true | { types, min_size, level, algorithms, request }</c>, in config form.</summary>
public sealed record CompressConfig(IReadOnlyList<string> Types, long MinSize, CompressionLevel Level, IReadOnlyList<ContentCoding> Codings, RequestDecompressionConfig? Request)
{
    public const long DefaultMinSize = 1024;

    public static CompressConfig Default { get; } = new(ResponseCompression.DefaultTypes, DefaultMinSize, CompressionLevel.Fastest, [ContentCoding.Brotli, ContentCoding.Gzip], null);
}

/// <summary><c>compress.request = true | { max_size, max_ratio }</c>: request bodies decompressed, within bounds.</summary>
public sealed record RequestDecompressionConfig(long MaxSize, int MaxRatio)
{
    public static RequestDecompressionConfig Default { get; } = new(10L * 1024 * 1024, 100);
}

public static partial class ConfigLoader
{
    private static CompressConfig? ReadCompress(ConfigReader route)
    {
        if (!route.IsTable("compress"))
        {
            return route.Bool("compress", false) ? CompressConfig.Default : null;
        }

        ConfigReader table = route.Table("compress")!;
        CompressConfig defaults = CompressConfig.Default;
        List<string> types = table.Has("types") ? [.. table.StringList("types").Select(t => t.Value)] : [.. defaults.Types];
        foreach (string type in types.Where(t => !IsMediaTypePattern(t)))
        {
            table.Error("types", $"\"{type}\" is not a media type", "write \"application/json\", \"text/*\" or \"application/*+json\"");
        }

        CompressionLevel level = table.String("level", "fastest") switch
        {
            "fastest" => CompressionLevel.Fastest,
            "optimal" => CompressionLevel.Optimal,
            "smallest" => CompressionLevel.SmallestSize,
            var other => InvalidLevel(other!),
        };

        CompressionLevel InvalidLevel(string other)
        {
            table.Error("level", $"\"{other}\" is not a level", "use \"fastest\" (gzip 1, brotli 1), \"optimal\" (gzip 6, brotli 4) or \"smallest\" (gzip 9, brotli 11)");
            return CompressionLevel.Fastest;
        }

        var codings = new List<ContentCoding>();
        foreach ((string name, SourceLocation location) in table.Has("algorithms") ? table.StringList("algorithms") : [("br", table.LocationOf("algorithms")), ("gzip", table.LocationOf("algorithms"))])
        {
            ContentCoding coding = name switch { "br" => ContentCoding.Brotli, "gzip" => ContentCoding.Gzip, _ => ContentCoding.None };
            if (coding == ContentCoding.None)
            {
                table.ErrorAt(location, "algorithms", $"\"{name}\" is not offered", "use \"br\" and \"gzip\", in the order preferred (zstd is not in the platform)");
            }
            else if (!codings.Contains(coding))
            {
                codings.Add(coding);
            }
        }

        RequestDecompressionConfig? request = null;
        if (table.IsTable("request"))
        {
            ConfigReader requestTable = table.Table("request")!;
            request = new RequestDecompressionConfig(
                requestTable.Size("max_size", RequestDecompressionConfig.Default.MaxSize, 1, 1L << 32),
                (int)requestTable.Integer("max_ratio", RequestDecompressionConfig.Default.MaxRatio, 1, 100_000));
            requestTable.RejectUnknownKeys();
        }
        else if (table.Bool("request", false))
        {
            request = RequestDecompressionConfig.Default;
        }

        var config = new CompressConfig(types, table.Size("min_size", CompressConfig.DefaultMinSize, 0, 1L << 32), level, codings, request);
        table.RejectUnknownKeys();
        return config;
    }

    /// <summary>"type/subtype", "type/*" or "type/*+suffix".</summary>
    private static bool IsMediaTypePattern(string type)
    {
        string[] parts = type.Split('/');
        static bool Token(string text) => text.Length > 0 && HyperGate.Http1.HttpCharacters.IsToken(System.Text.Encoding.ASCII.GetBytes(text));
        return parts.Length == 2 && Token(parts[0]) && parts[0] != "*"
            && (parts[1] == "*" || Token(parts[1]) || (parts[1].StartsWith("*+", StringComparison.Ordinal) && Token(parts[1][2..])));
    }
}
