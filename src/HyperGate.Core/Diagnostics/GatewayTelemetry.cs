using System.Diagnostics;
using HyperGate.Configuration;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace HyperGate.Diagnostics;

/// <summary>
/// What a gateway reports, shared by its connections: metrics always; the access log and span export when the
/// config asks and the runtime serves traffic (a config check or explain reports nothing).
/// </summary>
public sealed class GatewayTelemetry : IAsyncDisposable
{
    public const string ActivitySourceName = "HyperGate";

    private readonly TracerProvider? _tracerProvider;

    public GatewayTelemetry(GatewayConfig config, Func<GatewaySnapshot> snapshot, TimeProvider time, ILoggerFactory loggers, bool withOutputs, RequestMirror mirror)
    {
        ServiceName = config.Tracing.ServiceName;
        if (withOutputs && config.AccessLog.Path is not null)
        {
            AccessLog = new AccessLog(config.AccessLog, loggers.CreateLogger("HyperGate.AccessLog"));
        }

        Metrics = new GatewayMetrics(snapshot, time.GetTimestamp, () => AccessLog?.Dropped ?? 0, mirror);
        if (withOutputs && config.Tracing.OtlpEndpoint is { } endpoint)
        {
            // Sources are selected by name, so this assumes one exporting gateway per process (as the binary runs).
            // The gateway decides sampling itself (Begin), so every span it starts is recorded.
            Spans = new ActivitySource(ActivitySourceName);
            _tracerProvider = Sdk.CreateTracerProviderBuilder()
                .AddSource(ActivitySourceName)
                .SetSampler(new AlwaysOnSampler())
                .SetResourceBuilder(ResourceBuilder.CreateDefault().AddService(ServiceName))
                .AddOtlpExporter(otlp =>
                {
                    otlp.Endpoint = new Uri(new Uri(endpoint), "v1/traces");
                    otlp.Protocol = OtlpExportProtocol.HttpProtobuf;
                })
                .Build();
        }
    }

    public GatewayMetrics Metrics { get; }

    /// <summary>The <c>service.name</c> of exported spans and metrics (<c>[tracing] service_name</c>).</summary>
    public string ServiceName { get; }

    /// <summary>Null when <c>[access_log]</c> is absent.</summary>
    public AccessLog? AccessLog { get; }

    /// <summary>Where sampled requests' spans start; null unless <c>[tracing] otlp_endpoint</c> is set.</summary>
    public ActivitySource? Spans { get; }

    public async ValueTask DisposeAsync()
    {
        _tracerProvider?.Dispose();
        Spans?.Dispose();
        Metrics.Dispose();
        if (AccessLog is not null)
        {
            await AccessLog.DisposeAsync();
        }
    }
}
