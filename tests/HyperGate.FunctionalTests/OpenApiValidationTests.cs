using System.Net;
using System.Text;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>Requests checked against an OpenAPI description (3.0 in YAML, 3.1 in JSON) read relative to the config file.</summary>
public sealed class OpenApiValidationTests : IDisposable
{
    private const string Yaml30 = """
        openapi: 3.0.3
        info: { title: Orders, version: "1" }
        paths:
          /orders:
            post:
              parameters:
                - { name: X-Tenant, in: header, required: true, schema: { type: string, pattern: "^t-[0-9]+$" } }
              requestBody:
                required: true
                content:
                  application/json:
                    schema: { $ref: "#/components/schemas/Order" }
              responses: { "201": { description: created } }
          /orders/{id}:
            parameters:
              - { $ref: "#/components/parameters/OrderId" }
            get:
              parameters:
                - { name: expand, in: query, schema: { type: boolean } }
                - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 100 } }
              responses: { "200": { description: ok } }
        components:
          parameters:
            OrderId: { name: id, in: path, required: true, schema: { type: integer, minimum: 1 } }
          schemas:
            Order:
              type: object
              required: [sku, quantity]
              properties:
                sku: { type: string }
                quantity: { type: integer, minimum: 1 }
                note: { type: string, nullable: true }
        """;

    private const string Json31 = """
        {
          "openapi": "3.1.0",
          "info": { "title": "Orders", "version": "1" },
          "paths": {
            "/orders/{id}": {
              "get": {
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "exclusiveMinimum": 0 } } ],
                "responses": { "200": { "description": "ok" } }
              }
            }
          }
        }
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("openapi-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private async Task<TestGateway> StartAsync(TestUpstream upstream, string file, string content)
    {
        Directory.CreateDirectory(Path.Combine(_directory, "api"));
        await File.WriteAllTextAsync(Path.Combine(_directory, "api", file), content);
        string config = Path.Combine(_directory, "gateway.toml");
        await File.WriteAllTextAsync(config, TestGateway.WithServer($$"""
            [upstreams.backend]
            targets = ["{{upstream.Address}}"]

            [routes.orders]
            path_prefix = "/api"
            strip_prefix = true
            upstream = "backend"
            validate = { openapi = "api/{{file}}", base_path = "/api" }
            """));
        return await TestGateway.StartFromFileAsync(config);
    }

    private static async Task<(HttpStatusCode Status, string[] Pointers)> SendAsync(HttpClient client, HttpMethod method, string path, string? json = null, string? tenant = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        if (tenant is not null)
        {
            request.Headers.Add("X-Tenant", tenant);
        }

        using HttpResponseMessage response = await client.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        string[] pointers = response.StatusCode == HttpStatusCode.BadRequest
            ? [.. JsonDocument.Parse(body).RootElement.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("pointer").GetString()!)]
            : [];
        return (response.StatusCode, pointers);
    }

    [Fact]
    public async Task ValidRequests_PassThrough()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "orders.yaml", Yaml30);
        using HttpClient client = gateway.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, HttpMethod.Get, "/api/orders/7?expand=true&limit=10")).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, HttpMethod.Get, "/api/orders/7")).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, HttpMethod.Post, "/api/orders", """{"sku":"a","quantity":1,"note":null}""", tenant: "t-1")).Status);
        Assert.Equal(3, upstream.RequestCount);
    }

    [Fact]
    public async Task Parameters_AreCheckedAgainstTheirSchemas()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "orders.yaml", Yaml30);
        using HttpClient client = gateway.CreateClient();

        (HttpStatusCode status, string[] pointers) = await SendAsync(client, HttpMethod.Get, "/api/orders/0?expand=maybe&limit=500");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("/path/id", pointers);
        Assert.Contains("/query/expand", pointers);
        Assert.Contains("/query/limit", pointers);
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task HeadersAndBodies_AreCheckedToo_AndARequiredBodyMustCome()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "orders.yaml", Yaml30);
        using HttpClient client = gateway.CreateClient();

        (HttpStatusCode badBody, string[] bodyPointers) = await SendAsync(client, HttpMethod.Post, "/api/orders", """{"sku":5,"quantity":0}""", tenant: "t-1");
        (HttpStatusCode badHeader, string[] headerPointers) = await SendAsync(client, HttpMethod.Post, "/api/orders", """{"sku":"a","quantity":1}""", tenant: "tenant");
        (HttpStatusCode noBody, string[] noBodyPointers) = await SendAsync(client, HttpMethod.Post, "/api/orders", tenant: "t-1");

        Assert.Equal(HttpStatusCode.BadRequest, badBody);
        Assert.Contains("/body/sku", bodyPointers);
        Assert.Contains("/body/quantity", bodyPointers);
        Assert.Equal(HttpStatusCode.BadRequest, badHeader);
        Assert.Contains("/header/X-Tenant", headerPointers);
        Assert.Equal(HttpStatusCode.BadRequest, noBody);
        Assert.Contains("/body", noBodyPointers);
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task UndocumentedPathsAndMethods_AreRefused()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "orders.yaml", Yaml30);
        using HttpClient client = gateway.CreateClient();

        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(client, HttpMethod.Get, "/api/customers")).Status);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await SendAsync(client, HttpMethod.Delete, "/api/orders/7")).Status);
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task OpenApi31InJson_IsReadToo()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, "orders.json", Json31);
        using HttpClient client = gateway.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(client, HttpMethod.Get, "/api/orders/3")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(client, HttpMethod.Get, "/api/orders/-3")).Status);
    }
}
