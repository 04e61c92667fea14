using System.Diagnostics;
using System.Diagnostics.Metrics;
using HyperGate.Configuration;
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

    public GatewayTelemetry(GatewayConfig config, Func<GatewaySnapshot> snapshot, ILoggerFactory loggers, bool withOutputs)
    {
        if (withOutputs && config.AccessLog.Path is not null)
        {
            AccessLog = new AccessLog(config.AccessLog, loggers.CreateLogger("HyperGate.AccessLog"));
        }

        Metrics = new GatewayMetrics(snapshot, () => AccessLog?.Dropped ?? 0);
        if (withOutputs && config.Tracing.OtlpEndpoint is { } endpoint)
        {
            // One source per gateway, so that two gateways in one process never export each other's spans.
            Spans = new ActivitySource(ActivitySourceName);
            _tracerProvider = Sdk.CreateTracerProviderBuilder()
                .AddSource(ActivitySourceName)
                .SetSampler(new AlwaysOnSampler())
                .SetResourceBuilder(ResourceBuilder.CreateDefault().AddService(config.Tracing.ServiceName))
                .AddProcessor(new FilteringProcessor(Spans, new BatchActivityExportProcessor(new OtlpTraceExporter(new OtlpExporterOptions
                {
                    Endpoint = new Uri(new Uri(endpoint), "v1/traces"),
                    Protocol = OtlpExportProtocol.HttpProtobuf,
                }))))
                .Build();
        }
    }

    public GatewayMetrics Metrics { get; }

    /// <summary>Null when <c>[access_log]</c> is absent.</summary>
    public AccessLog? AccessLog { get; }

    /// <summary>Where sampled requests' spans start; null unless <c>[tracing] otlp_endpoint</c> is set.</summary>
    public ActivitySource? Spans { get; }

    /// <summary>True when <paramref name="instrument"/> is this gateway's own (for exporters that select meters by name).</summary>
    public bool Owns(Instrument instrument) => Metrics.Owns(instrument);

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

    /// <summary>Passes on only the spans of one source instance (sources are selected by name, shared by every gateway in the process).</summary>
    private sealed class FilteringProcessor(ActivitySource source, BaseProcessor<Activity> inner) : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data)
        {
            if (data.Source == source)
            {
                inner.OnEnd(data);
            }
        }

        protected override bool OnForceFlush(int timeoutMilliseconds) => inner.ForceFlush(timeoutMilliseconds);

        protected override bool OnShutdown(int timeoutMilliseconds) => inner.Shutdown(timeoutMilliseconds);

        protected override void Dispose(bool disposing)
        {
            inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
