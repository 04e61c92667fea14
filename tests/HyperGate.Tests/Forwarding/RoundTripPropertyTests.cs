using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using HyperGate.Configuration;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Routing;
using HyperGate.Upstreams;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Tests.Forwarding;

/// <summary>
/// Property: a request the gateway accepted, once re-serialized for the upstream, parses back to the same
/// request: method, canonical path, query, host, every end-to-end field in order, and the body framing.
/// Requests come from a seeded generator, so a failure names its seed and can be replayed.
/// </summary>
public sealed class RoundTripPropertyTests : IAsyncDisposable
{
    private const string Unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    private const string SubDelims = "!$&'()*+,;=:@";
    private static readonly string[] Methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE", "X-CUSTOM"];

    private readonly UpstreamConnectionManager _connections = new(TimeProvider.System);

    public ValueTask DisposeAsync() => _connections.DisposeAsync();

    [Fact]
    public async Task ReserializedRequest_ParsesBackToTheSameRequest()
    {
        var endPoint = new IPEndPoint(IPAddress.Loopback, 9);
        Destination destination = _connections.GetOrCreateDestination("backend", "127.0.0.1:9", endPoint, UpstreamSettings.Default);
        var route = new Route { Name = "all", Path = "/", PathKind = PathMatchKind.Prefix };
        GatewayConfig config = ConfigLoader.Parse("[server]\nlisten = [\"127.0.0.1:0\"]\n[routes.all]\npath_prefix = \"/\"\nrespond = { status = 200 }", "test.toml");
        await using GatewayRuntime runtime = GatewayRuntime.Create(config, TimeProvider.System, NullLoggerFactory.Instance);
        GatewaySnapshot snapshot = runtime.Snapshot;

        for (int seed = 0; seed < 2000; seed++)
        {
            string text = Generate(new Random(seed));
            var upstream = new Pipe();
            using var exchange = new Exchange(new Pipe().Reader, new Pipe().Writer, IPAddress.Parse("10.0.0.1"), isHttps: false) { Route = route, Snapshot = snapshot };
            RequestHead original = exchange.Request;
            ParseStatus status = RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text)), original, HeadLimits.Default, out _, out _, out RejectionReason reason);
            Assert.True(status == ParseStatus.Complete, $"seed {seed}: generated request rejected ({reason}):\n{text}");
            Assert.Equal(RejectionReason.None, original.NormalizePath());
            exchange.Trace.Begin(original, sampleRate: 0);

            UpstreamRequestWriter.Write(upstream.Writer, exchange, destination, upgrade: false);
            await upstream.Writer.FlushAsync();
            upstream.Reader.TryRead(out ReadResult written);

            using var reparsed = new RequestHead();
            Assert.Equal(ParseStatus.Complete, RequestHeadParser.TryParse(written.Buffer, reparsed, HeadLimits.Default, out _, out _, out _));
            Assert.Equal(RejectionReason.None, reparsed.NormalizePath());
            Assert.True(Describe(original) == Describe(reparsed), $"seed {seed}:\n{Describe(original)}\n!=\n{Describe(reparsed)}");
        }
    }

    /// <summary>What must survive forwarding; the gateway's own fields (X-Forwarded-*, Via) are left out.</summary>
    private static string Describe(RequestHead request)
    {
        var text = new StringBuilder();
        text.Append(Encoding.ASCII.GetString(request.MethodBytes)).Append(' ')
            .Append(Encoding.ASCII.GetString(request.NormalizedPath)).Append(Encoding.ASCII.GetString(request.Query)).Append('\n')
            .Append("host=").Append(Encoding.ASCII.GetString(request.Host)).Append('\n')
            .Append("framing=").Append(request.BodyFraming).Append(' ').Append(request.ContentLength).Append('\n');
        foreach (HeaderField field in request.Headers)
        {
            string name = Encoding.Latin1.GetString(request.NameOf(field));
            if (!field.Dropped && !name.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase) && name != "Via")
            {
                text.Append(name).Append(": ").Append(Encoding.Latin1.GetString(request.ValueOf(field))).Append('\n');
            }
        }

        return text.ToString();
    }

    private static string Generate(Random random)
    {
        var text = new StringBuilder();
        text.Append(Methods[random.Next(Methods.Length)]).Append(' ').Append(GeneratePath(random));
        if (random.Next(3) == 0)
        {
            text.Append('?').Append(RandomString(random, Unreserved + SubDelims + "/?", random.Next(0, 20)));
        }

        text.Append(random.Next(4) == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
        text.Append("Host: ").Append(RandomString(random, "abcdefghijklmnopqrstuvwxyz", random.Next(1, 12))).Append(".example");
        text.Append(random.Next(2) == 0 ? "\r\n" : $":{random.Next(1, 65536)}\r\n");

        int fields = random.Next(0, 9);
        for (int i = 0; i < fields; i++)
        {
            text.Append("X-").Append(RandomString(random, Unreserved.Replace(".", string.Empty), random.Next(1, 10))).Append(':');
            text.Append(random.Next(2) == 0 ? " " : "\t").Append(GenerateValue(random)).Append(random.Next(3) == 0 ? " \r\n" : "\r\n");
        }

        switch (random.Next(3))
        {
            case 0:
                text.Append("Content-Length: ").Append(random.Next(0, 100_000)).Append("\r\n");
                break;
            case 1 when !text.ToString().Contains("HTTP/1.0"):
                text.Append("Transfer-Encoding: chunked\r\n");
                break;
        }

        return text.Append("\r\n").ToString();
    }

    private static string GeneratePath(Random random)
    {
        var path = new StringBuilder();
        int segments = random.Next(0, 6);
        for (int i = 0; i < segments; i++)
        {
            path.Append('/');
            switch (random.Next(8))
            {
                case 0: path.Append('.'); break;
                case 1: path.Append(".."); break;
                case 2: path.Append($"%{random.Next(0x21, 0x7F):X2}".Replace("%2F", "%20").Replace("%5C", "%20")); break;
                default: path.Append(RandomString(random, Unreserved + SubDelims, random.Next(0, 10))); break;
            }
        }

        return path.Length == 0 ? "/" : path.ToString();
    }

    private static string GenerateValue(Random random)
    {
        // Visible ASCII, inner spaces and tabs, and obs-text: everything RFC 9110 §5.5 allows in a value.
        var value = new StringBuilder();
        int length = random.Next(0, 30);
        for (int i = 0; i < length; i++)
        {
            int kind = random.Next(10);
            value.Append(kind switch
            {
                0 => ' ',
                1 => '\t',
                2 => (char)random.Next(0x80, 0x100),
                _ => (char)random.Next(0x21, 0x7F),
            });
        }

        return value.ToString().Trim(' ', '\t');
    }

    private static string RandomString(Random random, string alphabet, int length) =>
        new(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
}
