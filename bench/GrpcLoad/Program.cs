using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using HyperGate.FunctionalTests.Grpc;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// A gRPC unary load tool (ghz is not packaged), and the service it loads:
//   GrpcLoad serve PORT                          a unary echo service on 127.0.0.1:PORT, h2c
//   GrpcLoad load URL CONCURRENCY SECONDS        calls Unary with CONCURRENCY calls in flight over one channel for
//                                                SECONDS (after 1 s of warm-up); prints "rps p50_ms p99_ms errors"
switch (args.FirstOrDefault())
{
    case "serve":
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, int.Parse(args[1]), listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        WebApplication app = builder.Build();
        app.MapGrpcService<UnaryEcho>();
        await app.RunAsync();
        return 0;
    case "load":
        await LoadAsync(new Uri(args[1]), int.Parse(args[2]), TimeSpan.FromSeconds(double.Parse(args[3])));
        return 0;
    default:
        Console.Error.WriteLine("usage: GrpcLoad serve PORT | load URL CONCURRENCY SECONDS");
        return 2;
}

static async Task LoadAsync(Uri address, int concurrency, TimeSpan duration)
{
    using GrpcChannel channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, UseProxy = false },
    });
    var client = new Echo.EchoClient(channel);
    var request = new EchoRequest { Text = "hello" };
    await RunAsync(TimeSpan.FromSeconds(1), null);
    var latencies = new List<long>[concurrency];
    long errors = await RunAsync(duration, latencies);
    long[] all = [.. latencies.SelectMany(l => l).Order()];
    double Percentile(double p) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(all.Length * p))] * 1000.0 / Stopwatch.Frequency;
    Console.WriteLine($"{all.Length / duration.TotalSeconds:F2} {Percentile(0.5):F3} {Percentile(0.99):F3} {errors}");

    async Task<long> RunAsync(TimeSpan length, List<long>[]? record)
    {
        long failed = 0;
        long end = Stopwatch.GetTimestamp() + (long)(length.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            List<long> mine = record is null ? [] : record[worker] = new List<long>(100_000);
            while (Stopwatch.GetTimestamp() < end)
            {
                long start = Stopwatch.GetTimestamp();
                try
                {
                    await client.UnaryAsync(request);
                    mine.Add(Stopwatch.GetTimestamp() - start);
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }));
        return failed;
    }
}

sealed class UnaryEcho : Echo.EchoBase
{
    public override Task<EchoReply> Unary(EchoRequest request, ServerCallContext context) => Task.FromResult(new EchoReply { Text = request.Text });
}
