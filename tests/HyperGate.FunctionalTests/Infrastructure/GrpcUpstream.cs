using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using HyperGate.FunctionalTests.Grpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>A real gRPC service (Grpc.AspNetCore on Kestrel, HTTP/2 only): h2c, or h2 over TLS with a certificate.</summary>
public sealed class GrpcUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GrpcUpstream(WebApplication app) => _app = app;

    public string Address { get; private set; } = string.Empty;

    /// <summary>Calls the service saw end cancelled (the caller, or the gateway for it, gave up).</summary>
    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<GrpcUpstream> StartAsync(X509Certificate2? certificate = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<EchoService.Registry>();
        WebApplication app = builder.Build();
        var upstream = new GrpcUpstream(app);
        app.Services.GetRequiredService<EchoService.Registry>().Upstream = upstream;
        app.MapGrpcService<EchoService>();
        await app.StartAsync();
        upstream.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Authority;
        return upstream;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>The test service: each kind of call, a status on request, a delay on request.</summary>
public sealed class EchoService(EchoService.Registry registry) : Echo.EchoBase
{
    /// <summary>Lets the service reach the test's handle on it.</summary>
    public sealed class Registry
    {
        public GrpcUpstream? Upstream { get; set; }
    }

    private static string Protocol(ServerCallContext context) => context.GetHttpContext().Request.Protocol;

    private async Task Prepare(EchoRequest request, ServerCallContext context)
    {
        if (request.DelayMs > 0)
        {
            try
            {
                await Task.Delay(request.DelayMs, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                registry.Upstream?.Cancelled.TrySetResult();
                throw;
            }
        }

        if (request.FailCode != 0)
        {
            throw new RpcException(new Status((StatusCode)request.FailCode, $"failing with {request.FailCode} as asked"));
        }
    }

    public override async Task<EchoReply> Unary(EchoRequest request, ServerCallContext context)
    {
        await Prepare(request, context);
        return new EchoReply { Text = request.Text, Protocol = Protocol(context) };
    }

    public override async Task ServerStream(EchoRequest request, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        await Prepare(request, context);
        for (int i = 0; i < request.Count; i++)
        {
            await responseStream.WriteAsync(new EchoReply { Text = $"{request.Text} #{i}", Protocol = Protocol(context) });
        }
    }

    public override async Task<EchoReply> ClientStream(IAsyncStreamReader<EchoRequest> requestStream, ServerCallContext context)
    {
        var texts = new List<string>();
        await foreach (EchoRequest request in requestStream.ReadAllAsync())
        {
            texts.Add(request.Text);
        }

        return new EchoReply { Text = string.Join("+", texts), Protocol = Protocol(context) };
    }

    public override async Task Chat(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        await foreach (EchoRequest request in requestStream.ReadAllAsync())
        {
            await responseStream.WriteAsync(new EchoReply { Text = request.Text.ToUpperInvariant(), Protocol = Protocol(context) });
        }
    }
}
