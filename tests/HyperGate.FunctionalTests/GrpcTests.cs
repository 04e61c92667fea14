using Grpc.Core;
using Grpc.Net.Client;
using HyperGate.FunctionalTests.Grpc;
using HyperGate.FunctionalTests.Infrastructure;
using HyperGate.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace HyperGate.FunctionalTests;

/// <summary>
/// gRPC through the gateway end to end: a Grpc.Net.Client client, the gateway (h2c at the edge), a Grpc.AspNetCore
/// service behind it over h2c or h2; every kind of call, statuses and trailers passed through, deadlines, and the
/// gateway's own answers as gRPC statuses.
/// </summary>
public sealed class GrpcTests : IAsyncLifetime, IDisposable
{
    private readonly TestCertificates _certificates = new();
    private GrpcUpstream _service = null!;

    public async Task InitializeAsync() => _service = await GrpcUpstream.StartAsync();

    public async Task DisposeAsync() => await _service.DisposeAsync();

    public void Dispose() => _certificates.Dispose();

    private static string Config(string upstreamAddress, string upstreamExtras = "protocol = \"h2c\"", string routeExtras = "", string sections = "") => $$"""
        [http2]
        h2c = true
        {{sections}}

        [upstreams.grpc]
        targets = ["{{upstreamAddress}}"]
        {{upstreamExtras}}

        [routes.echo]
        path_prefix = "/hypergate.test.Echo/"
        upstream = "grpc"
        {{routeExtras}}
        """;

    private static Echo.EchoClient Client(TestGateway gateway, out GrpcChannel channel)
    {
        channel = GrpcChannel.ForAddress($"http://{gateway.EndPoint}");
        return new Echo.EchoClient(channel);
    }

    [Fact]
    public async Task Unary_ReachesTheServiceOverH2c_AndTheReplyComesBack()
    {
        await using TestGateway gateway = await TestGateway.StartAsync(Config(_service.Address));
        Echo.EchoClient client = Client(gateway, out GrpcChannel channel);
        using (channel)
        {
            EchoReply reply = await client.UnaryAsync(new EchoRequest { Text = "hello" });

            Assert.Equal("hello", reply.Text);
            Assert.Equal("HTTP/2", reply.Protocol);
        }
    }

    [Fact]
    public async Task Unary_OverTlsToAnH2Upstream_NegotiatedByAlpn()
    {
        TestCertificate certificate = _certificates.Create("grpc", ["localhost"]);
        await using GrpcUpstream tlsService = await GrpcUpstream.StartAsync(certificate.Certificate);
        await using TestGateway gateway = await TestGateway.StartAsync(Config(tlsService.Address,
            $"protocol = \"h2\"\ntls = {{ ca = \"{certificate.CertPath}\", server_name = \"localhost\" }}"));
        Echo.EchoClient client = Client(gateway, out GrpcChannel channel);
        using (channel)
        {
            Assert.Equal("over tls", (await client.UnaryAsync(new EchoRequest { Text = "over tls" })).Text);
        }
    }

    [Fact]
    public async Task ManyConcurrentCalls_OnOneUpstreamConnection_AllSucceed()
    {
        // Streams race for the upstream connection's output: their ids must still reach it in increasing order
        // (RFC 9113 §5.1.1), or the service closes the connection under them.
        await using TestGateway gateway = await TestGateway.StartAsync(Config(_service.Address));
        Echo.EchoClient client = Client(gateway, out GrpcChannel channel);
        using (channel)
        {
            EchoReply[] replies = await Task.WhenAll(Enumerable.Range(0, 300).Select(async i => await client.UnaryAsync(new EchoRequest { Text = $"call {i}" })));

            Assert.Equal(Enumerable.Range(0, 300).Select(i => $"call {i}"), replies.Select(r => r.Text));
        }
    }

    [Fact]
    public async Task ServerStreaming_DeliversEveryMessage()
    {
        await using TestGateway gateway = await TestGateway.StartAsync(Config(_service.Address));
        Echo.EchoClient client = Client(gateway, out GrpcChannel channel);
        using (channel)
        {
            using AsyncServerStreamingCall<EchoReply> call = client.ServerStream(new EchoRequest { Text = "tick", Count = 5 });
            var texts = new List<string>();
            await foreach (EchoReply reply in call.ResponseStream.ReadAllAsync())
            {
                texts.Add(reply.Text);
            }

            Assert.Equal(["tick #0", "tick #1", "tick #2", "tick #3", "tick #4"], texts);
            Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        }
    }

    [Fact]
    public async Task ClientStreaming_SendsEveryMessage()
    {
        await using TestGateway gateway = await TestGateway.StartAsync(Config(_service.Address));
        Echo.EchoClient client = Client(gateway, out GrpcChannel channel);
        using (channel)
        {
            using AsyncClientStreamingCall<EchoRequest, EchoReply> call = client.ClientStream();
            foreach (string text in new[] { "a", "b", "c" })
            {
                await call.RequestStream.WriteAsync(new EchoRequest { Text = text });
            }

            await call.RequestStream.CompleteAsync();
            Assert.Equal("a+b+c", (await call.ResponseAsync).Text);
        }
    }

    [Fact]
    public async Task Bidirectional_RepliesArriveWhileTheClientStillSends()
    {
        await using TestGateway gateway = await TestGateway.StartAsync(Config(_service.Address));
        Echo.EchoClient client = Client(gateway, out GrpcChannel channel);
        using (channel)
        {
            using AsyncDuplexStreamingCall<EchoRequest, EchoReply> call = client.Chat();
            foreach (string text in new[] { "one", "two", "three" })
            {
                // Each reply is read before the next message goes: nothing is held back until the call ends.
                await call.RequestStream.WriteAsync(new EchoRequest { Text = text });
                Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
                Assert.Equal(text.ToUpperInvariant(), call.ResponseStream.Current.Text);
            }

            await call.RequestStream.CompleteAsync();
            Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        }
    }

    [Fact]
    public async Task TheServicesStatusAndMessage_PassThrough_AndAreCountedAndLogged()
    {
        string log = Path.GetTempFileName();
        try
        {
            string metrics;
            await using (TestGateway gateway = await TestGateway.StartAsync(Config(_service.Address, sections: $"[admin]\nlisten = \"127.0.0.1:0\"\n[access_log]\npath = \"{log}\"")))
            {
                Echo.EchoClient client = Client(gateway, out GrpcChannel channel);
                using (channel)
                {
                    // A failure the service sends as trailers-only, a success whose status ends the streamed body.
                    RpcException error = await Assert.ThrowsAsync<RpcException>(async () => await client.UnaryAsync(new EchoRequest { FailCode = (int)StatusCode.NotFound }));
                    await client.UnaryAsync(new EchoRequest { Text = "fine" });

                    Assert.Equal(StatusCode.NotFound, error.StatusCode);
                    Assert.Equal("failing with 5 as asked", error.Status.Detail);
                }

                metrics = await gateway.CreateAdminClient().GetStringAsync("/metrics");
            }

            Assert.Equal(1, PrometheusText.Value(metrics, "hypergate_grpc_responses_total", ("route", "echo"), ("grpc_status", "5")));
            Assert.Equal(1, PrometheusText.Value(metrics, "hypergate_grpc_responses_total", ("route", "echo"), ("grpc_status", "0")));
            string[] lines = File.ReadAllLines(log);
            Assert.Equal(2, lines.Length);
            Assert.Single(lines, line => line.Contains("\"grpc_status\":5,"));
            Assert.Single(lines, line => line.Contains("\"grpc_status\":0,"));
        }
        finally
        {
            File.Delete(log);
        }
    }

    [Fact]
    public async Task GrpcTimeout_BoundsTheWaitForTheUpstream_AsDeadlineExceeded()
    {
        await using TestGateway gateway = await TestGateway.StartAsync(Config(_service.Address));
        await using H2Client client = await H2Client.ConnectAsync(gateway.EndPoint);

        // No client-side deadline here: the status can only come from the gateway, which took grpc-timeout as its own.
        // One length-prefixed message: EchoRequest { delay_ms = 3000 } (field 3, varint 0xB8 0x17).
        byte[] message = [0, 0, 0, 0, 3, 0x18, 0xB8, 0x17];
        await client.SendHeadersAsync(1, H2Client.Request("/hypergate.test.Echo/Unary", "POST",
            ("content-type", "application/grpc"), ("te", "trailers"), ("grpc-timeout", "200m")), endStream: false);
        await client.SendDataAsync(1, message, endStream: true);
        H2Response response = await client.ReadResponseAsync(1);

        Assert.Equal(200, response.Status);
        Assert.Equal("4", response.Headers["grpc-status"]);
        await _service.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task NoRoute_IsUnimplemented()
    {
        await using TestGateway gateway = await TestGateway.StartAsync(Config(_service.Address, routeExtras: "methods = [\"POST\"]").Replace("path_prefix = \"/hypergate.test.Echo/\"", "path = \"/hypergate.test.Echo/Unary\""));
        Echo.EchoClient client = Client(gateway, out GrpcChannel channel);
        using (channel)
        {
            RpcException error = await Assert.ThrowsAsync<RpcException>(async () => await client.ClientStream().ResponseAsync);
            Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
            Assert.Equal("No route matches the request.", error.Status.Detail);
        }
    }

    [Fact]
    public async Task MissingCredentials_IsUnauthenticated_AndARateLimitIsResourceExhausted()
    {
        await using TestGateway gateway = await TestGateway.StartAsync(Config(_service.Address,
            routeExtras: "auth = [\"keys\"]\nrate_limit = [\"tight\"]",
            sections: $$"""
                [auth.keys]
                type = "api_key"
                [consumers.alice]
                api_keys = ["{{CredentialHashes.HashKey("alice-key")}}"]
                [rate_limits.tight]
                key = "consumer"
                rate = 1
                per = "1h"
                """));
        Echo.EchoClient client = Client(gateway, out GrpcChannel channel);
        using (channel)
        {
            RpcException anonymous = await Assert.ThrowsAsync<RpcException>(async () => await client.UnaryAsync(new EchoRequest { Text = "x" }));
            Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);

            var key = new Metadata { { "x-api-key", "alice-key" } };
            Assert.Equal("first", (await client.UnaryAsync(new EchoRequest { Text = "first" }, key)).Text);
            RpcException limited = await Assert.ThrowsAsync<RpcException>(async () => await client.UnaryAsync(new EchoRequest { Text = "second" }, key));
            Assert.Equal(StatusCode.ResourceExhausted, limited.StatusCode);
        }
    }

    [Fact]
    public async Task AnUpstreamThatIsDown_IsUnavailable()
    {
        using ClosedPort closed = TestPorts.Closed();
        await using TestGateway gateway = await TestGateway.StartAsync(Config(closed.Address));
        Echo.EchoClient client = Client(gateway, out GrpcChannel channel);
        using (channel)
        {
            RpcException error = await Assert.ThrowsAsync<RpcException>(async () => await client.UnaryAsync(new EchoRequest { Text = "x" }));
            Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        }
    }

    [Fact]
    public async Task AnH2cUpstream_ServesPlainHttpRequestsToo_AndManyAtOnceShareConnections()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync(protocols: HttpProtocols.Http2);
        await using TestGateway gateway = await TestGateway.StartForAsync(upstream.Address, upstreamExtras: "protocol = \"h2c\"\nh2_connections = 2");

        // An HTTP/1.1 client, an HTTP/2 upstream: the gateway translates both ways.
        using HttpClient http = gateway.CreateClient();
        Task<string>[] calls = [.. Enumerable.Range(0, 20).Select(i => http.GetStringAsync($"/many/{i}"))];
        EchoResult[] echoes = [.. (await Task.WhenAll(calls)).Select(EchoResult.Parse)];

        Assert.All(echoes, echo => Assert.Equal("HTTP/2", echo.Protocol));
        Assert.InRange(echoes.Select(e => e.ConnectionId).Distinct().Count(), 1, 4);
        string download = await http.GetStringAsync("/download?size=100000&chunked=1");
        Assert.Equal(100_000, download.Length);
    }

    [Fact]
    public async Task AStreamTheUpstreamNeverProcessed_GoAway_IsSentAgainOnANewConnection()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int connections = 0;
        Task upstream = Task.Run(async () =>
        {
            for (int attempt = 0; attempt < 2; attempt++)
            {
                using System.Net.Sockets.TcpClient tcp = await listener.AcceptTcpClientAsync();
                connections++;
                await using H2Client server = H2Client.Accepted(tcp);
                Assert.True(await server.ReadClientPrefaceAsync());
                await server.SendSettingsAsync();
                H2Frame request = await server.ExpectAsync(f => f.Type == H2Frame.Headers, "the forwarded request");
                if (attempt == 0)
                {
                    // §6.8: last stream id 0: nothing on this connection was processed.
                    await server.SendFrameAsync(H2Frame.GoAway, 0, 0, [0, 0, 0, 0, 0, 0, 0, 0]);
                    await server.ClosedAsync();
                    continue;
                }

                await server.SendHeadersAsync(request.Stream, [(":status", "200"), ("content-length", "2")], endStream: false);
                await server.SendDataAsync(request.Stream, "ok"u8.ToArray(), endStream: true);
                await server.ClosedAsync();
            }
        });

        await using (TestGateway gateway = await TestGateway.StartForAsync($"127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}", upstreamExtras: "protocol = \"h2c\""))
        {
            using HttpClient http = gateway.CreateClient();
            Assert.Equal("ok", await http.GetStringAsync("/retried"));
            Assert.Equal(2, connections);
        }

        await upstream.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
