using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>A real HTTP/1.1 upstream (Kestrel) on 127.0.0.1 with endpoints that report what they received.</summary>
public sealed class TestUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private int _requestCount;

    private TestUpstream(WebApplication app) => _app = app;

    public string Address { get; private set; } = string.Empty;

    /// <summary>Requests that reached this upstream.</summary>
    public int RequestCount => Volatile.Read(ref _requestCount);

    /// <summary>The path of every request that reached this upstream, in arrival order.</summary>
    public ConcurrentQueue<string> Paths { get; } = new();

    /// <summary>The body length of every request the echo endpoint read to its end, in completion order.</summary>
    public ConcurrentQueue<long> BodyLengths { get; } = new();

    /// <summary>Completes once <paramref name="count"/> requests have reached this upstream.</summary>
    public Task WaitForRequestsAsync(int count)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            _waiters.Add((count, reached));
        }

        NotifyWaiters();
        return reached.Task;
    }

    private void NotifyWaiters()
    {
        lock (_waiters)
        {
            foreach ((int count, TaskCompletionSource reached) in _waiters.Where(w => w.Count <= RequestCount))
            {
                reached.TrySetResult();
            }
        }
    }

    /// <summary>How long every request waits before it is answered: a slow destination.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>When set, every request is answered with this status: a failing destination.</summary>
    public int? FailStatus { get; set; }

    /// <summary>Completed by the test to let /slow answer.</summary>
    public TaskCompletionSource SlowGate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed when /slow has been entered.</summary>
    public TaskCompletionSource SlowEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="certificate">When given, the upstream speaks HTTPS with it (with its private key).</param>
    /// <param name="protocols">What Kestrel speaks: HTTP/1.1 by default; Http2 alone is h2c by prior knowledge without a certificate, h2 by ALPN with one.</param>
    public static async Task<TestUpstream> StartAsync(string name = "upstream", X509Certificate2? certificate = null, HttpProtocols protocols = HttpProtocols.Http1)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = protocols;
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
            k.Limits.MaxRequestBodySize = null;
        });
        WebApplication app = builder.Build();
        var upstream = new TestUpstream(app);
        app.UseWebSockets();
        app.Use(async (context, next) =>
        {
            upstream.Paths.Enqueue(context.Request.Path.Value ?? string.Empty);
            Interlocked.Increment(ref upstream._requestCount);
            upstream.NotifyWaiters();
            context.Response.Headers["X-Upstream"] = name;
            if (upstream.Delay > TimeSpan.Zero)
            {
                await Task.Delay(upstream.Delay);
            }

            if (upstream.FailStatus is { } status)
            {
                context.Response.StatusCode = status;
                await context.Response.WriteAsync($"failing with {status}");
                return;
            }

            await next(context);
        });

        app.Map("/ws", async context =>
        {
            using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            while (true)
            {
                WebSocketReceiveResult received = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, CancellationToken.None);
            }
        });

        app.Map("/upload", async context =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long length = 0;
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                length += read;
            }

            await context.Response.WriteAsJsonAsync(new { length, sha256 = Convert.ToHexString(hash.GetHashAndReset()) });
        });

        // Answers with the request's own body and content type, so a test sees exactly what arrived.
        app.Map("/echo-body", async context =>
        {
            using var received = new MemoryStream();
            await context.Request.Body.CopyToAsync(received);
            context.Response.ContentType = context.Request.ContentType ?? "application/octet-stream";
            context.Response.Headers["X-Received-Length"] = context.Request.ContentLength?.ToString() ?? "none";
            context.Response.ContentLength = received.Length;
            await context.Response.Body.WriteAsync(received.ToArray());
        });

        // A JSON document given in the query (?json=...), as the upstream's response.
        app.Map("/json", async context =>
        {
            context.Response.ContentType = "application/json";
            context.Response.Headers.ETag = "\"v1\"";
            await context.Response.WriteAsync(context.Request.Query["json"].ToString());
        });

        app.Map("/download", async context =>
        {
            long size = long.Parse(context.Request.Query["size"]!);
            if (context.Request.Query["chunked"] != "1")
            {
                context.Response.ContentLength = size;
            }

            var buffer = new byte[64 * 1024];
            for (long sent = 0; sent < size;)
            {
                int count = (int)Math.Min(buffer.Length, size - sent);
                Pattern(sent, buffer.AsSpan(0, count));
                await context.Response.Body.WriteAsync(buffer.AsMemory(0, count));
                sent += count;
            }
        });

        app.Map("/status/{code:int}", (HttpContext context, int code) =>
        {
            context.Response.StatusCode = code;
            return code is 204 or 304 ? Task.CompletedTask : context.Response.WriteAsync($"status {code}");
        });

        app.Map("/slow", async context =>
        {
            upstream.SlowEntered.TrySetResult();
            await upstream.SlowGate.Task;
            await context.Response.WriteAsync("done");
        });

        app.MapFallback(async context =>
        {
            long bodyLength = 0;
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                bodyLength += read;
            }

            upstream.BodyLengths.Enqueue(bodyLength);

            var echo = new EchoResult(
                name,
                context.Request.Method,
                context.Request.Path.Value ?? string.Empty,
                context.Request.QueryString.Value ?? string.Empty,
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                bodyLength,
                context.Connection.Id,
                context.Request.Protocol);
            await context.Response.WriteAsJsonAsync(echo);
        });

        await app.StartAsync();
        upstream.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Authority;
        return upstream;
    }

    /// <summary>The deterministic content /download serves: byte i is (i * 31 + 7) mod 256.</summary>
    public static void Pattern(long offset, Span<byte> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (byte)(((offset + i) * 31) + 7);
        }
    }

    public async ValueTask DisposeAsync()
    {
        SlowGate.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public sealed record EchoResult(string Server, string Method, string Path, string Query, Dictionary<string, string> Headers, long BodyLength, string ConnectionId, string Protocol = "")
{
    public static EchoResult Parse(string json) => JsonSerializer.Deserialize<EchoResult>(json, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
}
