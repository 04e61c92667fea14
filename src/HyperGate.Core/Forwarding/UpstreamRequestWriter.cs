using System.Buffers;
using System.IO.Pipelines;
using HyperGate.Http1;
using HyperGate.Routing;
using HyperGate.Upstreams;

namespace HyperGate.Forwarding;

/// <summary>
/// Serializes the request head sent upstream. It is rebuilt by us, never copied: one request line, the client's
/// end-to-end fields, the gateway's forwarding fields, and exactly one framing field.
/// </summary>
internal static class UpstreamRequestWriter
{
    public static void Write(PipeWriter pipe, Exchange exchange, Destination destination, bool upgrade)
    {
        var output = new HeadWriter(pipe);
        RequestHead request = exchange.Request;
        Route route = exchange.Route!;

        output.Write(request.MethodBytes);
        output.Write(" "u8);
        WriteTarget(ref output, exchange, route);
        output.Write(" HTTP/1.1\r\nHost: "u8);
        output.Write(route.PreserveHost && request.Host.Length > 0 ? request.Host : destination.HostHeaderValue);
        output.Write("\r\n"u8);

        if (route.Phases.UpstreamFields is { } rewrite)
        {
            rewrite.WriteFields(ref output, request, exchange);
        }
        else
        {
            request.WriteForwardedFields(ref output);
        }

        if (exchange.UpstreamFields is { } added)
        {
            output.Write(added);
        }
        if (exchange.Identity is { } identity && exchange.Snapshot.IdentityHeaders is { } identityHeaders)
        {
            identityHeaders.Write(ref output, identity);
        }

        exchange.Snapshot.RequestId?.WriteField(ref output, exchange);

        if (upgrade)
        {
            output.Write("Connection: upgrade\r\nUpgrade: "u8);
            output.Write(request.ValueOf(request.Headers[request.UpgradeIndex]));
            output.Write("\r\n"u8);
        }

        // RFC 7239 predecessors, as every upstream framework understands them; the client's copies were removed.
        // Behind a trusted proxy, the client is the one its X-Forwarded-For names.
        output.Write("X-Forwarded-For: "u8);
        output.Write(exchange.Snapshot.TrustedProxies.ClientAddress(exchange));
        output.Write(exchange.IsHttps ? "\r\nX-Forwarded-Proto: https\r\n"u8 : "\r\nX-Forwarded-Proto: http\r\n"u8);
        if (request.Host.Length > 0)
        {
            output.Write("X-Forwarded-Host: "u8);
            output.Write(request.Host);
            output.Write("\r\n"u8);
        }

        exchange.Trace.WriteUpstreamField(ref output);
        if (route.ForwardClientCertificate && exchange.Tls?.ClientCertificateFields is { } clientCertificate)
        {
            output.Write(clientCertificate);
        }

        // RFC 9110 §7.6.3: Via names the protocol version the gateway received.
        output.Write(exchange.IsHttp2 ? "Via: 2 hypergate\r\n"u8 : request.Version == HttpVersion.Http11 ? "Via: 1.1 hypergate\r\n"u8 : "Via: 1.0 hypergate\r\n"u8);

        // A body read whole before forwarding goes with its final length (the request-body phase may have changed it).
        if (exchange.BufferedBody is { } buffered)
        {
            output.Write("Content-Length: "u8);
            GatewayResponses.WriteNumber(ref output, buffered.Length);
            output.Write("\r\n\r\n"u8);
            output.Commit();
            return;
        }

        switch (request.BodyFraming)
        {
            case BodyFraming.ContentLength:
                output.Write("Content-Length: "u8);
                GatewayResponses.WriteNumber(ref output, request.ContentLength);
                output.Write("\r\n\r\n"u8);
                break;
            case BodyFraming.Chunked:
                output.Write("Transfer-Encoding: chunked\r\n\r\n"u8);
                break;
            default:
                output.Write("\r\n"u8);
                break;
        }

        output.Commit();
    }

    /// <summary>The normalized path, with the route's prefix stripped or rewritten (or the whole path rewritten), then the query (as received, or rewritten).</summary>
    private static void WriteTarget(ref HeadWriter output, Exchange exchange, Route route)
    {
        RequestHead request = exchange.Request;
        if (request.IsAsteriskForm)
        {
            output.Write("*"u8);
            return;
        }

        ReadOnlySpan<byte> path = request.NormalizedPath;
        if (exchange.UpstreamPathCut is { Length: > 0 } cut)
        {
            // A step took a segment out (an API version's "/v2"): the path goes up as if it had never been there.
            byte[] rented = ArrayPool<byte>.Shared.Rent(path.Length);
            path[..cut.Start].CopyTo(rented);
            path[(cut.Start + cut.Length)..].CopyTo(rented.AsSpan(cut.Start));
            int length = path.Length - cut.Length;
            WritePath(ref output, exchange, route, length == 0 ? "/"u8 : rented.AsSpan(0, length));
            ArrayPool<byte>.Shared.Return(rented);
        }
        else
        {
            WritePath(ref output, exchange, route, path);
        }

        WriteQuery(ref output, exchange, route);
    }

    /// <summary>The path, with the route's prefix stripped or rewritten, or the whole path rewritten.</summary>
    private static void WritePath(ref HeadWriter output, Exchange exchange, Route route, ReadOnlySpan<byte> path)
    {
        RequestHead request = exchange.Request;
        byte[]? rewritePrefix = exchange.ChosenPrefix ?? route.RewritePrefix;
        if (route.PathKind == PathMatchKind.Prefix && (route.StripPrefix || rewritePrefix is not null || route.Rewrite is not null))
        {
            // What follows the matched prefix: "" or "/…", since a prefix ends on a segment boundary.
            ReadOnlySpan<byte> rest = path[PathTemplate.PrefixLength(path, route.Template.Segments.Length)..];
            if (route.Rewrite is { } rewrite)
            {
                // A rewrite of "/" stands for the root: the rest alone, as with strip_prefix.
                if (rewrite.Text.Length > 1 || rest.IsEmpty)
                {
                    rewrite.Write(ref output, request);
                }

                output.Write(rewrite.Text.Length > 1 && rest.IsEmpty ? [] : rest);
            }
            else
            {
                ReadOnlySpan<byte> prefix = rewritePrefix ?? [];

                // "/api" + "/users" → "/api/users"; "/" + "/users" → "/users"; nothing left → "/" (or the new prefix).
                if (prefix.Length > 0 && prefix[^1] == '/' && rest.Length > 0)
                {
                    prefix = prefix[..^1];
                }

                output.Write(prefix);
                if (rest.IsEmpty && prefix.IsEmpty)
                {
                    output.Write("/"u8);
                }

                output.Write(rest);
            }
        }
        else if (route.Rewrite is { } rewrite)
        {
            rewrite.Write(ref output, request);
        }
        else
        {
            output.Write(path);
        }
    }

    private static void WriteQuery(ref HeadWriter output, Exchange exchange, Route route)
    {
        RequestHead request = exchange.Request;
        if (route.Phases.UpstreamQuery is { } query)
        {
            query.Write(ref output, request.Query, exchange);
        }
        else
        {
            output.Write(request.Query);
        }
    }
}
