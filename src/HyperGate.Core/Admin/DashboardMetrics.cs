using System.Text.Json.Nodes;
using HyperGate.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace HyperGate.Admin;

/// <summary>
/// Feeds the dashboard from the same aggregation the Prometheus endpoint exports: a metric reader collected on
/// demand, keeping cumulative request counts and latency buckets per route. The page turns two readings into
/// rates and percentiles, so the server keeps no history.
/// </summary>
public sealed class DashboardMetrics : BaseExporter<Metric>
{
    private readonly Lock _lock = new();
    private Dictionary<string, RouteTotals> _routes = [];

    public DashboardMetrics() => Reader = new BaseExportingMetricReader(this) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };

    public MetricReader Reader { get; }

    /// <summary>Collects now and returns per-route totals: requests, 5xx responses, and duration bucket counts.</summary>
    public JsonArray CollectRoutes()
    {
        lock (_lock)
        {
            Reader.Collect();
            return [.. _routes.OrderBy(r => r.Key, StringComparer.Ordinal).Select(pair => (JsonNode)new JsonObject
            {
                ["name"] = pair.Key,
                ["requests"] = pair.Value.Requests,
                ["errors"] = pair.Value.Errors,
                ["buckets"] = new JsonArray([.. pair.Value.Buckets.Select(count => (JsonNode)count)]),
            })];
        }
    }

    public override ExportResult Export(in Batch<Metric> batch)
    {
        var routes = new Dictionary<string, RouteTotals>(StringComparer.Ordinal);
        foreach (Metric metric in batch)
        {
            if (metric.Name is not ("hypergate.requests" or "hypergate.request.duration"))
            {
                continue;
            }

            foreach (ref readonly MetricPoint point in metric.GetMetricPoints())
            {
                string route = GatewayMetrics.NoRoute;
                string? statusClass = null;
                foreach (KeyValuePair<string, object?> tag in point.Tags)
                {
                    if (tag.Key == "route")
                    {
                        route = tag.Value as string ?? route;
                    }
                    else if (tag.Key == "status_class")
                    {
                        statusClass = tag.Value as string;
                    }
                }

                if (!routes.TryGetValue(route, out RouteTotals? totals))
                {
                    routes[route] = totals = new RouteTotals();
                }

                if (metric.MetricType == MetricType.LongSum)
                {
                    long count = point.GetSumLong();
                    totals.Requests += count;
                    totals.Errors += statusClass == "5xx" ? count : 0;
                }
                else if (metric.MetricType == MetricType.Histogram)
                {
                    int i = 0;
                    foreach (HistogramBucket bucket in point.GetHistogramBuckets())
                    {
                        totals.Buckets[i++] += bucket.BucketCount;
                    }
                }
            }
        }

        _routes = routes;
        return ExportResult.Success;
    }

    private sealed class RouteTotals
    {
        public long Requests;
        public long Errors;

        /// <summary>One count per bound of <see cref="GatewayMetrics.DurationBuckets"/>, plus the overflow bucket.</summary>
        public readonly long[] Buckets = new long[GatewayMetrics.DurationBuckets.Length + 1];
    }
}
