using System.Text;
using HyperGate.Caching;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;
using HyperGate.RateLimiting;
using HyperGate.Resilience;
using HyperGate.Security;
using HyperGate.Upstreams;

namespace HyperGate.Routing;

public enum PathMatchKind : byte
{
    Exact,
    Prefix,
}

/// <summary>A compiled route: what it matches, and what happens to a request that it matches.</summary>
public sealed class Route
{
    public required string Name
    {
        get => _name;
        init
        {
            _name = value;
            NameBytes = Encoding.UTF8.GetBytes(value);
        }
    }

    public byte[] NameBytes { get; private init; } = [];

    /// <summary>Lowercase host without port; "*.example.com" for a wildcard; null matches any host.</summary>
    public string? Host { get; init; }

    public PathMatchKind PathKind { get; init; }

    /// <summary>The path in normalized form; for a prefix, without a trailing slash ("/" for the root).</summary>
    public required string Path
    {
        get => _path;
        init
        {
            _path = value;
            Template = PathTemplate.Parse(value, out _) ?? throw new ArgumentException($"\"{value}\" is not a path template", nameof(value));
        }
    }

    /// <summary>The path's segments and parameters (<c>/users/{id}</c>), which the trie branches on.</summary>
    public PathTemplate Template { get; private init; } = null!;

    /// <summary>Methods this route accepts; empty accepts all.</summary>
    public string[] Methods
    {
        get => _methods;
        init
        {
            _methods = value;
            _methodBytes = Array.ConvertAll(value, Encoding.ASCII.GetBytes);
        }
    }

    /// <summary>Header and query predicates, all of which a request must meet.</summary>
    public RequestPredicate[] Predicates { get; init; } = [];

    public int Priority { get; init; }

    public Upstream? Upstream { get; init; }

    /// <summary>A pre-encoded response sent instead of forwarding (a mock or maintenance route).</summary>
    public DirectResponse? DirectResponse { get; init; }

    public bool StripPrefix { get; init; }

    /// <summary>Replaces the matched prefix in the upstream path, when set.</summary>
    public byte[]? RewritePrefix { get; init; }

    /// <summary>The upstream path built from the route's path parameters (<c>rewrite = "/accounts/{id}"</c>), when set.</summary>
    public PathRewrite? Rewrite { get; init; }

    /// <summary>True: the client's Host is forwarded (the default). False: the destination's address is sent.</summary>
    public bool PreserveHost { get; init; } = true;

    /// <summary>
    /// True: a path with an encoded slash (<c>%2F</c>, <c>%5C</c>) is served, matched and forwarded encoded. False (the
    /// default): it is refused, since upstreams disagree on whether it separates segments (route confusion).
    /// </summary>
    public bool KeepEncodedSlashes { get; init; }

    /// <summary>403 unless the request's connection presented a verified client certificate (mTLS).</summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary>The verified client certificate goes upstream in Client-Cert and Client-Cert-Chain (RFC 9440).</summary>
    public bool ForwardClientCertificate { get; init; }

    /// <summary>The API's versions when the route has them (each names its upstream); null otherwise.</summary>
    public HyperGate.Versioning.ApiVersions? Versions { get; init; }

    /// <summary>How the route caches responses; null when it does not.</summary>
    public RouteCache? Cache { get; init; }

    /// <summary>The route's policies as ordered steps per phase.</summary>
    public RoutePhases Phases { get; init; } = RoutePhases.Empty;

    /// <summary>Addresses allowed or denied on this route (after the global filter); null when none.</summary>
    public IpFilter? IpFilter { get; init; }

    /// <summary>CORS rules; null when the route answers no cross-origin requests specially.</summary>
    public CorsPolicy? Cors { get; init; }

    /// <summary>Who may use this route; null for an anonymous route.</summary>
    public RouteAuth? Auth { get; init; }

    /// <summary>The limits every request on this route must pass, in order; null when none.</summary>
    public RouteRateLimits? RateLimits { get; init; }

    /// <summary>When and how failed requests are tried again; null when never.</summary>
    public RetryPolicy? Retry { get; init; }

    /// <summary>The overall deadline for the response head, across retries; zero when none.</summary>
    public TimeSpan Timeout { get; init; }

    /// <summary>Overrides the upstream's <c>response_timeout</c> for each try on this route, when set.</summary>
    public TimeSpan? ResponseTimeout { get; init; }

    /// <summary>Where requests go while the upstream's circuit is open: another upstream ...</summary>
    public Upstream? FallbackUpstream { get; init; }

    /// <summary>... or a direct response; both null when the circuit's 503 answers.</summary>
    public DirectResponse? FallbackResponse { get; init; }

    /// <summary>Weighted upstreams for each request instead of <see cref="Upstream"/>, when the route splits traffic.</summary>
    public UpstreamSplit? Split { get; init; }

    /// <summary>Request bodies up to this many bytes (with a Content-Length) are read whole before forwarding; 0: always streamed.</summary>
    public long BodyBuffer { get; init; }

    /// <summary>An upstream that receives a copy of each request (its answer discarded), when set.</summary>
    public Upstream? Mirror { get; init; }

    /// <summary>The upstream for this request: the route's, or one drawn from its split.</summary>
    public Upstream? PickUpstream() => Split is { } split ? split.Pick() : Upstream;

    private readonly string _name = string.Empty;
    private readonly string _path = "/";
    private readonly string[] _methods = [];
    private byte[][] _methodBytes = [];
    private byte[]? _allowField;

    /// <summary>The Allow field line listing this route's methods, sent with a 405.</summary>
    public byte[] AllowField => _allowField ??= Encoding.ASCII.GetBytes($"Allow: {string.Join(", ", Methods)}\r\n");

    /// <summary>A CORS preflight asks about another method than its own: the route's CORS policy, if any, answers it.</summary>
    public bool AnswersPreflight(RequestHead request) => Cors is not null && CorsPolicy.IsPreflight(request);

    public bool AcceptsMethod(ReadOnlySpan<byte> method)
    {
        if (_methodBytes.Length == 0)
        {
            return true;
        }

        foreach (byte[] accepted in _methodBytes)
        {
            if (method.SequenceEqual(accepted))
            {
                return true;
            }
        }

        return false;
    }

    public bool MatchesPredicates(RequestHead request)
    {
        foreach (RequestPredicate predicate in Predicates)
        {
            if (!predicate.Matches(request))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Routes with more predicates are tried first; priority breaks the remaining ties.</summary>
    internal static int CompareSpecificity(Route a, Route b)
    {
        int byPredicates = b.Predicates.Length.CompareTo(a.Predicates.Length);
        if (byPredicates != 0)
        {
            return byPredicates;
        }

        int byMethods = (b.Methods.Length > 0).CompareTo(a.Methods.Length > 0);
        return byMethods != 0 ? byMethods : b.Priority.CompareTo(a.Priority);
    }
}
