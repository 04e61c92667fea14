using System.Net;
using System.Text;
using System.Text.Json;
using HyperGate.FunctionalTests.Infrastructure;

namespace HyperGate.FunctionalTests;

/// <summary>Request and response validation against JSON Schemas read relative to the config file, through a real upstream.</summary>
public sealed class ValidationTests : IDisposable
{
    private const string OrderSchema = """
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "type": "object",
          "required": ["sku", "quantity"],
          "properties": {
            "sku": { "type": "string", "pattern": "^[A-Z]{3}-[0-9]+$" },
            "quantity": { "type": "integer", "minimum": 1 },
            "lines": { "type": "array", "items": { "$ref": "#/$defs/line" } }
          },
          "$defs": { "line": { "type": "object", "required": ["price"], "properties": { "price": { "type": "number", "exclusiveMinimum": 0 } } } }
        }
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("validate-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private async Task<TestGateway> StartAsync(TestUpstream upstream, string validate)
    {
        Directory.CreateDirectory(Path.Combine(_directory, "schemas"));
        await File.WriteAllTextAsync(Path.Combine(_directory, "schemas", "order.json"), OrderSchema);
        await File.WriteAllTextAsync(Path.Combine(_directory, "schemas", "echo.json"), """{ "type": "object", "required": ["id"] }""");
        string config = Path.Combine(_directory, "gateway.toml");
        await File.WriteAllTextAsync(config, TestGateway.WithServer($$"""
            [upstreams.backend]
            targets = ["{{upstream.Address}}"]

            [routes.orders]
            path_prefix = "/"
            upstream = "backend"
            validate = {{validate}}
            """));
        return await TestGateway.StartFromFileAsync(config);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task AValidBody_IsForwarded()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, """{ schema = "schemas/order.json" }""");
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await client.PostAsync("/echo-body", Json("""{"sku":"ABC-1","quantity":2,"lines":[{"price":9.5}]}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, upstream.RequestCount);
    }

    [Fact]
    public async Task AnInvalidBody_Is400_ListingEveryErrorWithItsPointer_AndNeverForwarded()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, """{ schema = "schemas/order.json" }""");
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await client.PostAsync("/echo-body", Json("""{"sku":"abc","lines":[{"price":0},{}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        using JsonDocument problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("urn:hypergate:problem:validation-failed", problem.RootElement.GetProperty("type").GetString());
        string[] pointers = [.. problem.RootElement.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("pointer").GetString()!)];
        Assert.Contains("", pointers);               // required: quantity
        Assert.Contains("/sku", pointers);           // pattern
        Assert.Contains("/lines/0/price", pointers); // exclusiveMinimum
        Assert.Contains("/lines/1", pointers);       // required: price
        Assert.Equal(0, upstream.RequestCount);
    }

    [Fact]
    public async Task MalformedJson_AndOtherTypes_AreRefused()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, """{ schema = "schemas/order.json" }""");
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage malformed = await client.PostAsync("/echo-body", Json("""{"sku": """));
        using HttpResponseMessage text = await client.PostAsync("/echo-body", new StringContent("sku=ABC-1", Encoding.UTF8, "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Contains("invalid-json", await malformed.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);
        Assert.Equal(0, upstream.RequestCount);
    }

    [Theory]
    [InlineData("log", """{"id":1}""", 200)]
    [InlineData("log", """{"name":"no id"}""", 200)]
    [InlineData("strict", """{"id":1}""", 200)]
    [InlineData("strict", """{"name":"no id"}""", 502)]
    public async Task ResponseValidation_CountsOrFailsAContractBreak(string mode, string json, int status)
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await StartAsync(upstream, $$"""{ response_schema = "schemas/echo.json", response = "{{mode}}" }""");
        using HttpClient client = gateway.CreateClient();

        using HttpResponseMessage response = await client.GetAsync("/json?json=" + Uri.EscapeDataString(json));

        Assert.Equal(status, (int)response.StatusCode);
        if (status == 200)
        {
            Assert.Equal(json, await response.Content.ReadAsStringAsync());
        }
    }
}
