// The minimal YARP reverse proxy the load comparison measures HyperGate against:
// one catch-all route to one destination, logging off, the same GC settings as HyperGate.
// Usage: YarpBaseline --listen 127.0.0.1:8082 --destination http://127.0.0.1:8090
using Yarp.ReverseProxy.Configuration;

string listen = ArgValue("--listen", "127.0.0.1:8082");
string destination = ArgValue("--destination", "http://127.0.0.1:8090");

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.AddServerHeader = false;
    k.Listen(System.Net.IPEndPoint.Parse(listen));
});
builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "origin", Match = new RouteMatch { Path = "{**catch-all}" } }],
    [new ClusterConfig { ClusterId = "origin", Destinations = new Dictionary<string, DestinationConfig> { ["origin"] = new() { Address = destination } } }]);

WebApplication app = builder.Build();
app.MapReverseProxy();
app.Run();

string ArgValue(string name, string fallback)
{
    int index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
}
