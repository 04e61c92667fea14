// A small echo service for trying HyperGate: it answers every request with what it received.
using System.Text.Json;

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
WebApplication app = builder.Build();
string name = app.Configuration["name"] ?? "echo";

app.Run(async context =>
{
    long bodyBytes = 0;
    var buffer = new byte[16 * 1024];
    int read;
    while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
    {
        bodyBytes += read;
    }

    var echo = new Dictionary<string, object?>
    {
        ["server"] = name,
        ["method"] = context.Request.Method,
        ["path"] = context.Request.Path.Value,
        ["query"] = context.Request.QueryString.Value,
        ["headers"] = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString()),
        ["body_bytes"] = bodyBytes,
    };
    // ?max-age=60 makes the answer cacheable for that long (to try the gateway's cache).
    if (int.TryParse(context.Request.Query["max-age"], out int maxAge) && maxAge >= 0)
    {
        context.Response.Headers.CacheControl = $"max-age={maxAge}";
    }

    context.Response.ContentType = "application/json";
    await context.Response.WriteAsync(JsonSerializer.Serialize(echo, new JsonSerializerOptions { WriteIndented = true }) + "\n");
});

// One line either way, which `./build.sh run` waits for: ready, or why not (a busy port is the usual reason).
try
{
    await app.StartAsync();
}
catch (IOException e)
{
    Console.Error.WriteLine($"{name}: cannot start: {e.Message}");
    return 1;
}

Console.WriteLine($"{name} listening on {string.Join(", ", app.Urls)}");
await app.WaitForShutdownAsync();
return 0;
