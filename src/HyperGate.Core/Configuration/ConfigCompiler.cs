using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;
using HyperGate.Caching;
using HyperGate.Caching.Fleet;
using HyperGate.Compression;
using HyperGate.Diagnostics;
using HyperGate.Forwarding;
using HyperGate.Hosting;
using HyperGate.Http1;
using HyperGate.Pipeline;
using HyperGate.RateLimiting;
using HyperGate.Resilience;
using HyperGate.Routing;
using HyperGate.Security;
using HyperGate.Transforms;
using HyperGate.Transforms.Json;
using HyperGate.Upstreams;
using HyperGate.Upstreams.Discovery;
using HyperGate.Validation;
using HyperGate.Versioning;
using Microsoft.Extensions.Logging;

namespace HyperGate.Configuration;

/// <summary>Compiles a validated config into an immutable <see cref="GatewaySnapshot"/>: the routing trie, upstreams, policies and limits.</summary>
public static class ConfigCompiler
{
    public static GatewaySnapshot Compile(GatewayConfig config, UpstreamConnectionManager connections, RateLimitRegistry rateLimits, AuthRegistry auth, CacheRegistry caches, ILogger contractLog)
    {
        var upstreams = new Dictionary<string, Upstream>(StringComparer.Ordinal);
        foreach (UpstreamConfig upstream in config.Upstreams)
        {
            var settings = new UpstreamSettings(upstream.ConnectTimeout, upstream.ResponseTimeout, upstream.MaxIdleConnections, upstream.IdleTimeout) { Tls = upstream.Tls, Http2 = upstream.Http2 };

            // Addresses are destinations as written; names are resolved by discovery, which keeps them current.
            var literal = upstream.Targets.Where(t => Destination.TryParseEndPoint(t.Address, out EndPoint? e) && e is IPEndPoint).ToList();
            var names = upstream.Targets.Except(literal).ToList();
            DiscoverySettings? discovery = names.Count > 0 || upstream.Discovery.DnsSrv is not null || upstream.Discovery.TargetsFile is not null
                ? new DiscoverySettings(names, upstream.Discovery.DnsSrv, upstream.Discovery.TargetsFile, config.Dns)
                : null;
            Destination[] destinations = [.. literal.Select(target =>
                connections.GetOrCreateDestination(upstream.Name, target.Address, IPEndPoint.Parse(target.Address), settings))];
            UpstreamProtectionConfig protection = upstream.Protection;
            var compiled = new Upstream(
                upstream.Name,
                destinations,
                [.. literal.Select(t => t.Weight)],
                settings,
                upstream.Balance,
                upstream.Health,
                connections,
                protection.CircuitBreaker is { } breaker ? connections.GetOrCreateBreaker(upstream.Name, breaker) : null,
                protection.MaxInFlight > 0 ? connections.GetOrCreateAdmission(upstream.Name, protection.MaxInFlight, protection.MaxPending) : null,
                discovery);
            if (discovery is not null)
            {
                (Destination[] found, int[] weights) = connections.DiscoveredTargets(upstream.Name, discovery, settings);
                compiled.SetDiscovered(found, weights);
            }

            upstreams[upstream.Name] = compiled;
        }

        Dictionary<string, RateLimitPolicy> policies = config.RateLimits.ToDictionary(l => l.Name, l => rateLimits.Create(l, config.Cluster), StringComparer.Ordinal);
        var consumers = new ConsumerDirectory(config.Consumers.Select(c => new Consumer(
            c.Name, c.ApiKeyHashes, c.BasicUser, c.BasicPasswordHash, c.Claims.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal))
        {
            ClientCertificates = [.. c.ClientCertificates],
        }));
        Dictionary<string, IAuthenticator> authenticators = config.Auth.ToDictionary(a => a.Name, a => auth.Create(a, consumers), StringComparer.Ordinal);
        IdentityHeaders? identityHeaders = config.Auth.Count == 0 ? null : new IdentityHeaders(config.Identity.ConsumerHeader, config.Identity.ClaimHeaders);
        (CacheStore Store, FleetTier? Fleet)? cacheTiers = config.Routes.Any(r => r.Cache is not null) ? caches.For(config.Cache) : null;
        var routes = config.Routes.Select(route => CompileRoute(route, config, upstreams, policies, authenticators, identityHeaders, cacheTiers, connections.TimeProvider, contractLog)).ToList();
        RouteTable table = RouteTable.Build(routes, out List<string> ambiguities, config.Server.CaseSensitiveRouting);
        if (ambiguities.Count > 0)
        {
            var byName = config.Routes.ToDictionary(r => r.Name);
            throw new ConfigException(ambiguities.Select(a => new ConfigError(
                byName[a.Split('"')[3]].Location, a, "give one route a higher priority, or distinct methods or headers")).ToList());
        }

        LimitsConfig limits = config.Limits;
        return new GatewaySnapshot
        {
            Config = config,
            Routes = table,
            Upstreams = upstreams,
            RateLimits = policies,
            TrustedProxies = new TrustedProxies(config.Server.TrustedProxies),
            IpFilter = config.Access.IsEmpty ? null : new IpFilter(config.Access.Allow, config.Access.Deny),
            IdentityHeaders = identityHeaders,
            RequestId = config.RequestIdHeader is { } requestIdHeader ? new RequestIdSettings(requestIdHeader) : null,
            Limits = new DownstreamLimits(
                new HeadLimits(limits.MaxHeadSize, limits.MaxHeaderCount, limits.MaxRequestTargetLength, limits.MaxHeaderNameLength, limits.MaxHeaderLineLength),
                limits.MaxBodySize,
                limits.RequestHeadTimeout,
                limits.KeepAliveTimeout,
                limits.MinBodyRate,
                limits.BodyRateGrace),
        };
    }

    private static Route CompileRoute(
        RouteConfig route,
        GatewayConfig config,
        Dictionary<string, Upstream> upstreams,
        Dictionary<string, RateLimitPolicy> policies,
        Dictionary<string, IAuthenticator> authenticators,
        IdentityHeaders? identityHeaders,
        (CacheStore Store, FleetTier? Fleet)? cacheTiers,
        TimeProvider time,
        ILogger contractLog)
    {
        ServerConfig server = config.Server;
        IpFilter? ipFilter = route.Access.IsEmpty ? null : new IpFilter(route.Access.Allow, route.Access.Deny);
        CorsPolicy? cors = route.Cors is { } c ? new CorsPolicy(c.Origins, c.Methods, c.Headers, c.ExposeHeaders, c.Credentials, c.MaxAge) : null;
        RouteAuth? auth = route.Auth.Count == 0 ? null : new RouteAuth(
            [.. route.Auth.Select(name => authenticators[name])], new AccessRequirement(route.Require.Scopes, route.Require.Claims));
        RouteRateLimits? rateLimits = route.RateLimits.Count == 0 ? null : new RouteRateLimits([.. route.RateLimits.Select(name => policies[name])]);

        // The request phase in its fixed order: address filter, CORS (a preflight carries no credentials), the
        // client's copies of identity fields dropped, authentication, rate limits (a refused caller costs no quota).
        var request = new List<RequestStep>();
        var responseHead = new List<ResponseStep>();
        if (ipFilter is not null)
        {
            request.Add(new IpFilterStep(ipFilter));
        }

        if (cors is not null)
        {
            request.Add(new CorsRequestStep(cors));
            responseHead.Add(CorsResponseStep.Instance);
        }

        if (identityHeaders is not null)
        {
            request.Add(new DropIdentityFieldsStep(identityHeaders));
        }

        if (auth is not null)
        {
            request.Add(new AuthenticationStep(auth));
        }

        if (rateLimits is not null)
        {
            request.Add(new RateLimitStep(rateLimits, time));
        }

        // An API description's operations are checked once the caller is admitted (its body in the body phase).
        OpenApiRequestStep? contract = route.Validate is { Contract: { } description } described ? new OpenApiRequestStep(description, described.BasePath) : null;
        if (contract is not null)
        {
            request.Add(contract);
        }

        // The API version is read once the caller is admitted; it picks the upstream and the version's fields.
        ApiVersions? versions = route.Versioning is { } versioning ? CompileVersions(versioning, upstreams, time) : null;
        if (versions is not null)
        {
            request.Add(versions);
        }

        // The cache answers only requests every policy let through; its store step runs on the response last.
        RouteCache? cache = route.Cache is { } cacheSettings ? new RouteCache(route.Name, cacheTiers!.Value.Store, cacheTiers.Value.Fleet, time, cacheSettings) : null;
        if (cache is not null)
        {
            request.Add(new CacheLookupStep(cache, config.Cache.CoalesceTimeout));
            responseHead.Add(new CacheStoreStep(cache));
        }

        RequestBodyStep[] requestBodySteps = CompileRequestBodySteps(route, contract);
        return new()
        {
            Name = route.Name,
            Host = route.Host,
            PathKind = route.Path is not null ? PathMatchKind.Exact : PathMatchKind.Prefix,
            Path = route.Path ?? route.PathPrefix!,
            Methods = [.. route.Methods],
            Predicates = [.. route.Predicates.Select(CompilePredicate)],
            Priority = route.Priority,
            Upstream = route.Upstream is null ? null : upstreams[route.Upstream],
            DirectResponse = route.Respond is { } respond ? new DirectResponse(respond.Status, respond.ContentType, respond.Body) : null,
            StripPrefix = route.StripPrefix,
            RewritePrefix = route.RewritePrefix is null ? null : Encoding.ASCII.GetBytes(route.RewritePrefix),
            Rewrite = route.Rewrite is { } rewrite ? PathRewrite.Compile(rewrite, PathTemplate.Parse(route.Path ?? route.PathPrefix!, out _)!, out _) : null,
            PreserveHost = route.PreserveHost,
            KeepEncodedSlashes = route.KeepEncodedSlashes ?? server.KeepEncodedSlashes,
            RequireClientCertificate = route.RequireClientCertificate,
            ForwardClientCertificate = route.ForwardClientCertificate,
            RateLimits = rateLimits,
            IpFilter = ipFilter,
            Cors = cors,
            Auth = auth,
            Cache = cache,
            Versions = versions,
            Phases = new RoutePhases([.. request], [.. responseHead])
            {
                UpstreamFields = CompileHeaderTransform(route.Transforms.RequestHeaders, route),
                UpstreamQuery = CompileQueryTransform(route.Transforms.RequestQuery, route),
                ResponseFields = CompileHeaderTransform(route.Transforms.ResponseHeaders, route),
                ResponseEncoding = route.Compress is { } compress ? new ResponseCompression(compress.Types, compress.MinSize, compress.Level, [.. compress.Codings]) : null,
                RequestBody = requestBodySteps,
                RequestBodyLimit = requestBodySteps.Select(s => s.MaxSize).DefaultIfEmpty(0).Min(),
                ResponseBody =
                [
                    .. route.Validate is { Response: { } responseSchema } checks ? [new ResponseSchemaStep(responseSchema, checks.MaxSize, checks.Strict, contractLog, time)] : Array.Empty<ResponseBodyStep>(),
                    .. route.Transforms.ResponseBody is { } responseBody ? [new JsonResponseBodyStep(CompileJsonBody(responseBody, route))] : Array.Empty<ResponseBodyStep>(),
                ],
            },
            Retry = route.Traffic.Retries is { } retry
                ? new RetryPolicy(retry.Attempts, retry.On, [.. retry.Statuses], retry.NonIdempotent, retry.Backoff, retry.MaxBackoff, new RetryBudget(retry.BudgetPercent, TimeSpan.FromSeconds(10), time))
                : null,
            Timeout = route.Traffic.Timeout,
            ResponseTimeout = route.Traffic.ResponseTimeout,
            FallbackUpstream = route.Traffic.Fallback?.Upstream is { } fallback ? upstreams[fallback] : null,
            FallbackResponse = route.Traffic.Fallback?.Respond is { } answer ? new DirectResponse(answer.Status, answer.ContentType, answer.Body) : null,
            Split = route.Traffic.Split.Count == 0 ? null : new UpstreamSplit([.. route.Traffic.Split.Select(s => (upstreams[s.Key], s.Value))], Random.Shared),
            Mirror = route.Traffic.Mirror is { } mirror ? upstreams[mirror] : null,
            BodyBuffer = route.Traffic.BodyBuffer,
        };
    }

    private static RequestPredicate CompilePredicate(PredicateConfig predicate) => predicate.InQuery
        ? new QueryPredicate(predicate.Name, predicate.Test, predicate.Text)
        : new HeaderPredicate(predicate.Name, predicate.Test, predicate.Text);

    private static HeaderTransform? CompileHeaderTransform(FieldTransformConfig? transform, RouteConfig route) => transform is null ? null
        : new HeaderTransform(transform.Remove, transform.Rename, CompileTemplates(transform.Set, route), CompileTemplates(transform.Add, route));

    private static QueryTransform? CompileQueryTransform(FieldTransformConfig? transform, RouteConfig route) => transform is null ? null
        : new QueryTransform(transform.Remove, transform.Rename, CompileTemplates(transform.Set, route), CompileTemplates(transform.Add, route));

    /// <summary>Templates the loader already checked: compiled again against the route's path (cheap, and kept out of the config records).</summary>
    private static List<KeyValuePair<string, Template>> CompileTemplates(IReadOnlyList<KeyValuePair<string, string>> values, RouteConfig route)
    {
        PathTemplate path = PathTemplate.Parse(route.Path ?? route.PathPrefix!, out _)!;
        return [.. values.Select(pair => new KeyValuePair<string, Template>(pair.Key, Template.Compile(pair.Value, path, route.Auth.Count > 0, out _)!))];
    }

    /// <summary>
    /// The request-body phase in its order: decompression first, so that validation sees the JSON the client meant,
    /// then validation (of what the client sent), then the JSON transform.
    /// </summary>
    private static RequestBodyStep[] CompileRequestBodySteps(RouteConfig route, OpenApiRequestStep? contract) =>
    [
        .. route.Compress?.Request is { } request ? [new RequestDecompression(request.MaxSize, request.MaxRatio)] : Array.Empty<RequestBodyStep>(),
        .. route.Validate is { Request: { } schema } validate ? [new RequestSchemaStep(schema, validate.MaxSize)] : Array.Empty<RequestBodyStep>(),
        .. contract is not null ? [new OpenApiBodyStep(contract, route.Validate!.MaxSize)] : Array.Empty<RequestBodyStep>(),
        .. route.Transforms.RequestBody is { } requestBody ? [new JsonRequestBodyStep(CompileJsonBody(requestBody, route))] : Array.Empty<RequestBodyStep>(),
    ];

    private static JsonBodyTransform CompileJsonBody(JsonBodyConfig body, RouteConfig route)
    {
        PathTemplate path = PathTemplate.Parse(route.Path ?? route.PathPrefix!, out _)!;
        static JsonPointerPath Pointer(string text) => JsonPointerPath.Parse(text, out _)!;
        JsonSetValue Value(object value) => value is string text && Template.Compile(text, path, route.Auth.Count > 0, out _)! is { IsConstant: false } template
            ? new JsonSetValue(null, template)
            : new JsonSetValue(JsonLiteral(value is string constant ? Template.Compile(constant, path, route.Auth.Count > 0, out _)!.Unescaped : value), null);

        List<JsonRule> rules =
        [
            .. body.Remove.Select(p => new JsonRule(JsonRuleKind.Remove, Pointer(p))),
            .. body.Allow.Select(p => new JsonRule(JsonRuleKind.Allow, Pointer(p))),
            .. body.Rename.Select(p => new JsonRule(JsonRuleKind.Rename, Pointer(p.Key), NewName: Pointer(p.Value).Segments[^1])),
            .. body.Set.Select(p => new JsonRule(JsonRuleKind.Set, Pointer(p.Key), Value: Value(p.Value))),
        ];
        return new JsonBodyTransform(rules, body.MaxSize, body.FailOnInvalid, body.FailOnTooLarge);
    }

    /// <summary>A constant set value as JSON text, encoded once.</summary>
    private static byte[] JsonLiteral(object value)
    {
        var buffer = new ArrayBufferWriter<byte>(32);
        using (var json = new Utf8JsonWriter(buffer))
        {
            switch (value)
            {
                case string text:
                    json.WriteStringValue(text);
                    break;
                case bool flag:
                    json.WriteBooleanValue(flag);
                    break;
                case long number:
                    json.WriteNumberValue(number);
                    break;
                case double number:
                    json.WriteNumberValue(number);
                    break;
            }
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static ApiVersions CompileVersions(VersioningConfig versioning, IReadOnlyDictionary<string, Upstream> upstreams, TimeProvider time)
    {
        ApiVersion[] versions = [.. versioning.Versions.Select(v => new ApiVersion(v.Name, upstreams[v.Upstream], v.Deprecated, v.Sunset, v.Link, v.GoneAfterSunset, v.RewritePrefix))];
        return new ApiVersions(versioning.Source, versioning.Name, versions, versions.FirstOrDefault(v => v.Name == versioning.Default), time);
    }
}
