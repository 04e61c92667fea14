using System.Buffers;
using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;

namespace HyperGate.Caching;

/// <summary>Writes a stored response to a client: its stored head and body, with Age (RFC 9111 §5.1) and Cache-Status (RFC 9211).</summary>
public static class CacheResponseWriter
{
    /// <summary>RFC 9110 §15.4.5: the fields a 304 carries (those that would have been sent in the 200 and guide cache updates).</summary>
    private static readonly byte[][] NotModifiedFields = ["cache-control"u8.ToArray(), "content-location"u8.ToArray(), "date"u8.ToArray(), "etag"u8.ToArray(), "expires"u8.ToArray(), "vary"u8.ToArray(), "last-modified"u8.ToArray()];

    /// <summary>Writes the response; returns whether the connection stays open.</summary>
    public static bool Write(Exchange exchange, CachedResponse stored, long now, ReadOnlySpan<byte> cacheStatus, bool withTtl, bool notModified)
    {
        bool keepAlive = WriteHead(exchange, stored, stored.Body.Length, now, cacheStatus, withTtl, notModified, out bool withBody);
        if (withBody)
        {
            exchange.Output.Write(stored.Body);
            exchange.ResponseBodyBytes = stored.Body.Length;
        }

        return keepAlive;
    }

    /// <summary>
    /// Writes the head of a response whose body is <paramref name="bodyLength"/> long; returns whether the
    /// connection stays open, and in <paramref name="withBody"/> whether the body follows (not for HEAD, 204 or 304).
    /// </summary>
    public static bool WriteHead(Exchange exchange, CachedResponse stored, long bodyLength, long now, ReadOnlySpan<byte> cacheStatus, bool withTtl, bool notModified, out bool withBody)
    {
        RequestHead request = exchange.Request;
        bool keepAlive = exchange.CanKeepAliveAfterAnswer();
        int status = notModified ? 304 : stored.Status;
        var output = new HeadWriter(exchange.Output);
        GatewayResponses.WriteStatusLine(ref output, status, notModified ? "Not Modified"u8 : stored.ReasonPhrase);
        HeadRewrite? rewrite = exchange.Route?.Phases.ResponseFields;
        if (notModified || rewrite is not null)
        {
            foreach (FieldLine field in stored.Fields)
            {
                if (notModified && !IsNotModifiedField(field.Name))
                {
                    continue;
                }

                if (rewrite is not null)
                {
                    rewrite.WriteField(ref output, field.Name, field.Value, field.Line);
                }
                else
                {
                    output.Write(field.Line);
                    output.Write("\r\n"u8);
                }
            }

            rewrite?.WriteAdded(ref output, exchange);
        }
        else
        {
            output.Write(stored.FieldBlock);
        }

        long age = Math.Max(0, stored.Times.CurrentAge(now));
        output.Write("Age: "u8);
        GatewayResponses.WriteNumber(ref output, Math.Min(age, CacheDirectives.MaxDelta));
        output.Write("\r\nCache-Status: "u8);
        output.Write(cacheStatus);
        if (withTtl)
        {
            // RFC 9211 §2.5: ttl is the freshness left, negative once stale.
            output.Write("; ttl="u8);
            long ttl = stored.Times.FreshnessLifetime - age;
            if (ttl < 0)
            {
                output.Write("-"u8);
                ttl = -ttl;
            }

            GatewayResponses.WriteNumber(ref output, ttl);
        }

        output.Write("\r\n"u8);
        exchange.ResponseFields = null;
        exchange.WriteGatewayFields(ref output);
        if (status != 304 && status != 204)
        {
            DownstreamResponseWriter.WriteContentLength(ref output, bodyLength);
        }

        DownstreamResponseWriter.WriteConnection(ref output, keepAlive, request.Version);
        output.Write("\r\n"u8);
        output.Commit();
        withBody = status != 304 && status != 204 && request.Method != HttpMethod.Head;
        exchange.Status = status;
        return keepAlive;
    }

    private static bool IsNotModifiedField(ReadOnlySpan<byte> name)
    {
        foreach (byte[] allowed in NotModifiedFields)
        {
            if (Ascii.EqualsIgnoreCase(name, allowed))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Cache-Status values (RFC 9211), encoded once.</summary>
public static class CacheStatus
{
    public static readonly byte[] Hit = "hypergate; hit"u8.ToArray();
    public static readonly byte[] FleetHit = "hypergate; hit; detail=fleet"u8.ToArray();
    public static readonly byte[] CollapsedHit = "hypergate; hit; collapsed"u8.ToArray();
    public static readonly byte[] StaleHit = "hypergate; hit; detail=stale"u8.ToArray();
    public static readonly byte[] StaleWhileRevalidate = "hypergate; hit; detail=stale-while-revalidate"u8.ToArray();
    public static readonly byte[] Revalidated = "hypergate; fwd=stale; fwd-status=304"u8.ToArray();
    public static readonly byte[] StaleIfError = "hypergate; fwd=stale; detail=stale-if-error"u8.ToArray();

    public static readonly byte[] UriMissStored = Field("hypergate; fwd=uri-miss; stored");
    public static readonly byte[] UriMiss = Field("hypergate; fwd=uri-miss");
    public static readonly byte[] VaryMissStored = Field("hypergate; fwd=vary-miss; stored");
    public static readonly byte[] VaryMiss = Field("hypergate; fwd=vary-miss");
    public static readonly byte[] StaleStored = Field("hypergate; fwd=stale; stored");
    public static readonly byte[] Stale = Field("hypergate; fwd=stale");
    public static readonly byte[] RequestStored = Field("hypergate; fwd=request; stored");
    public static readonly byte[] Request = Field("hypergate; fwd=request");
    public static readonly byte[] Bypass = Field("hypergate; fwd=bypass");
    public static readonly byte[] OnlyIfCachedMiss = Field("hypergate; fwd=miss; detail=only-if-cached");

    public static byte[] Field(string value) => Encoding.ASCII.GetBytes($"Cache-Status: {value}\r\n");

    /// <summary>The field for a forwarded request, by why it was forwarded and whether its response is being stored.</summary>
    public static byte[] Forwarded(ForwardReason reason, bool stored) => reason switch
    {
        ForwardReason.UriMiss => stored ? UriMissStored : UriMiss,
        ForwardReason.VaryMiss => stored ? VaryMissStored : VaryMiss,
        ForwardReason.Stale => stored ? StaleStored : Stale,
        ForwardReason.Request => stored ? RequestStored : Request,
        _ => Bypass,
    };
}

/// <summary>RFC 9211 §2.2's fwd values this cache uses.</summary>
public enum ForwardReason : byte
{
    Bypass,
    UriMiss,
    VaryMiss,
    Stale,
    Request,
}
