using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Tls;
using HyperGate.Upstreams;

namespace HyperGate.Routing;

/// <summary>What the gateway would do with one request, and why (the explain command; a cold path).</summary>
public sealed record Explanation(string Request, string Outcome, string? Route, IReadOnlyList<string> Considered, IReadOnlyList<string> Steps)
{
    /// <summary>For an https URL: which certificate the host's name (as SNI) gets.</summary>
    public string? Tls { get; init; }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.AppendLine($"request: {Request}");
        if (Tls is not null)
        {
            text.AppendLine($"tls: {Tls}");
        }

        text.AppendLine($"outcome: {Outcome}");
        text.AppendLine("routes considered:");
        foreach (string line in Considered)
        {
            text.AppendLine($"  {line}");
        }

        if (Steps.Count > 0)
        {
            text.AppendLine($"what happens on route \"{Route}\", in order:");
            foreach (string step in Steps)
            {
                text.AppendLine($"  - {step}");
            }
        }

        return text.ToString();
    }
}

/// <summary>
/// Explains a routing decision: the real table decides (the same lookup as the data plane); each route is then
/// described with the first reason it did not match, or why another one won.
/// </summary>
public static class RouteExplainer
{
    /// <summary>Header fields written as "Name: value" (the CLI's -H, the admin API's header=).</summary>
    public static List<KeyValuePair<string, string>> ParseHeaders(IEnumerable<string> fields) =>
        [.. fields.Select(f => f.Split(':', 2)).Select(p => new KeyValuePair<string, string>(p[0].Trim(), p.Length > 1 ? p[1].Trim() : string.Empty))];

    /// <summary>
    /// The URL to explain from an absolute http(s) URL, or from a path (<c>/users/7</c> or <c>users/7</c>) asked
    /// of <paramref name="host"/>; false when neither.
    /// </summary>
    public static bool TryMakeUrl(string urlOrPath, string host, [NotNullWhen(true)] out Uri? url)
    {
        if (Uri.TryCreate(urlOrPath, UriKind.Absolute, out url) && url.Scheme is "http" or "https")
        {
            return true;
        }

        string path = urlOrPath.StartsWith('/') ? urlOrPath : "/" + urlOrPath;
        return Uri.TryCreate($"http://{host}{path}", UriKind.Absolute, out url) && !urlOrPath.Contains("://", StringComparison.Ordinal);
    }

    public static Explanation Explain(GatewaySnapshot snapshot, string method, Uri url, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        string target = url.PathAndQuery;
        string head = $"{method} {target} HTTP/1.1\r\nHost: {url.Authority}\r\n" + string.Concat(headers.Select(h => $"{h.Key}: {h.Value}\r\n")) + "\r\n";
        string summary = $"{method} {url.Authority}{target}";
        string? tls = url.Scheme == "https" ? DescribeCertificate(snapshot.Config.Tls, url.IdnHost) : null;
        using var request = new RequestHead();
        ParseStatus status = RequestHeadParser.TryParse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(head)), request, snapshot.Limits.Head, out _, out _, out RejectionReason rejection);
        if (status != ParseStatus.Complete || (rejection = request.NormalizePath()) != RejectionReason.None)
        {
            return new Explanation(summary, $"rejected before routing: {rejection}", null, [], []) { Tls = tls };
        }

        string path = Encoding.ASCII.GetString(request.NormalizedPath);
        string host = url.Host.ToLowerInvariant();
        bool caseSensitive = snapshot.Config.Server.CaseSensitiveRouting;
        RouteMatch match = snapshot.Routes.Match(request);
        if (match.RefusesEncodedSlash(request, snapshot.Config.Server.KeepEncodedSlashes))
        {
            string decider = (match.Route ?? match.MethodMismatch) is { } decidingRoute ? $"route \"{decidingRoute.Name}\"" : "the server";
            return new Explanation(summary, $"rejected: {RejectionReason.EncodedSlash} (the path has %2F or %5C, and {decider} does not set encoded_slashes = \"keep\")", null, [], []) { Tls = tls };
        }

        var considered = new List<string>();
        foreach (Route route in snapshot.Routes.Routes)
        {
            string verdict = route == match.Route ? "MATCHED" : WhyNot(route, request, host, path, caseSensitive) ?? $"matches too, but \"{match.Route?.Name}\" is more specific (host, path length, predicates, priority)";
            considered.Add($"{route.Name}: {verdict}");
        }

        string parameters = match.Route is { Template.HasParameters: true } withParameters
            ? $", parameters {string.Join(", ", withParameters.Template.ParameterNames.Select((name, i) => $"{name} = \"{Encoding.ASCII.GetString(request.PathParameter(i))}\""))}"
            : string.Empty;
        string outcome = match.Route is { } matched
            ? $"route \"{matched.Name}\" (normalized path {path}{parameters})"
            : match.Rejection == RejectionReason.MethodNotAllowed ? $"405: route \"{match.MethodMismatch?.Name}\" does not accept {method}" : "404: no route matches";
        return new Explanation(summary, outcome, match.Route?.Name, considered, match.Route is null ? [] : Steps(snapshot, match.Route)) { Tls = tls };
    }

    /// <summary>The certificate a handshake naming <paramref name="host"/> (SNI) gets, by the rules of <see cref="CertificateSelector"/>.</summary>
    private static string DescribeCertificate(TlsSettings tls, string host)
    {
        if (tls.Certificates.Count == 0)
        {
            return "no [tls] certificates: nothing answers https";
        }

        static string Describe(ServerCertificate certificate) =>
            $"{string.Join(", ", certificate.Names)} ({certificate.CertPath}, expires {certificate.NotAfter:yyyy-MM-dd})";

        return tls.Selector.Match(host) is { } named ? $"certificate for {Describe(named)}"
            : tls.Selector.Select(host) is { } fallback ? $"no certificate names {host}: the first one serves it, {Describe(fallback)}"
            : $"no certificate names {host}, and strict_sni fails the handshake";
    }

    private static string? WhyNot(Route route, RequestHead request, string host, string path, bool caseSensitive)
    {
        bool hostMatches = route.Host switch
        {
            null => true,
            ['*', '.', ..] => host.Length > route.Host.Length - 1 && host.EndsWith(route.Host[1..], StringComparison.Ordinal),
            _ => host == route.Host,
        };
        if (!hostMatches)
        {
            return $"host {host} is not {route.Host}";
        }

        StringComparison comparison = caseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        if (!route.Template.Matches(path, route.PathKind == PathMatchKind.Prefix, comparison))
        {
            return route.PathKind == PathMatchKind.Exact ? $"path is not {route.Path}" : $"path is not under {route.Path}";
        }

        if (!route.AcceptsMethod(request.MethodBytes))
        {
            return $"method not in [{string.Join(", ", route.Methods)}]";
        }

        return route.Predicates.FirstOrDefault(p => !p.Matches(request)) is { } unmet ? $"{unmet} is not met" : null;
    }

    private static List<string> Steps(GatewaySnapshot snapshot, Route route)
    {
        var steps = new List<string>();
        if (snapshot.IpFilter is not null)
        {
            steps.Add("[access] address filter (checked before routing)");
        }

        if (route.IpFilter is not null)
        {
            steps.Add("route address filter (allow_ips / deny_ips)");
        }

        if (route.Cors is not null)
        {
            steps.Add("CORS: preflights answered here, origin fields on responses");
        }

        if (route.Auth is { } auth)
        {
            steps.Add($"authenticate with any of: {string.Join(", ", auth.Authenticators.Select(a => a.Name))}; then the route's require rules");
        }

        if (route.RateLimits is { } limits)
        {
            steps.Add($"rate limits, all must pass: {string.Join(", ", limits.Policies.Select(p => p.Name))}");
        }

        if (route.Cache is { } cache)
        {
            steps.Add($"cache: {cache.Describe()}");
        }

        if (route.DirectResponse is { } direct)
        {
            steps.Add($"answered by the gateway: {direct.Status}");
        }
        else
        {
            string rewrite = route.StripPrefix ? $", prefix {route.Path} stripped"
                : route.RewritePrefix is { } to ? $", prefix {route.Path} rewritten to {Encoding.ASCII.GetString(to)}"
                : route.Rewrite is { } template ? (route.PathKind == PathMatchKind.Prefix ? $", prefix {route.Path} rewritten to {template}" : $", path rewritten to {template}")
                : string.Empty;
            static string Describe(Upstream upstream) => $"upstream \"{upstream.Name}\" ({string.Join(", ", upstream.Destinations.Select(d => d.Address))})";
            string target = route.Split is { } split
                ? $"one of {string.Join(", ", split.Shares.Select(s => $"{Describe(s.Upstream)} with share {s.Share}"))}"
                : route.Versions is { } versions
                ? $"the version's upstream ({versions.Source.ToString().ToLowerInvariant()} {versions.Name}; default {versions.Default?.Name ?? "none"}): {string.Join(", ", versions.Versions.Select(v => $"{v.Name} to {Describe(v.Upstream)}{(v.Deprecated ? " (deprecated)" : string.Empty)}"))}"
                : Describe(route.Upstream!);
            steps.Add($"forwarded to {target}{rewrite}");
            if (route.Retry is { } retry)
            {
                steps.Add($"retried up to {retry.Attempts} time(s) on {retry}, within {retry.Budget.Percent}% of requests");
            }

            if (route.Timeout > TimeSpan.Zero)
            {
                steps.Add($"answered 504 unless a response head arrives within {route.Timeout.TotalSeconds:0.###}s, retries included");
            }

            if (route.FallbackUpstream is { } fallbackUpstream)
            {
                steps.Add($"while the circuit is open: forwarded to upstream \"{fallbackUpstream.Name}\"");
            }
            else if (route.FallbackResponse is { } fallback)
            {
                steps.Add($"while the circuit is open: answered by the gateway: {fallback.Status}");
            }

            if (route.Mirror is { } mirror)
            {
                steps.Add($"copied to upstream \"{mirror.Name}\", whose answer is dropped");
            }
        }

        return steps;
    }
}
