using System.Buffers;
using System.IO.Pipelines;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Upstreams;
using Microsoft.AspNetCore.Connections;

namespace HyperGate.Caching;

/// <summary>
/// stale-while-revalidate (RFC 5861 §3): the stale response has answered; this revalidates it behind the client's
/// back, once per key at a time. A 304 refreshes the stored fields (RFC 9111 §4.3.4); a storable 200 with a length
/// replaces the variant; anything else leaves the stored response to expire.
/// </summary>
internal static class BackgroundRefresh
{
    /// <summary>Builds the conditional request from the exchange now (it is reused once answered) and sends it in the background.</summary>
    public static void Start(RouteCache cache, Exchange exchange, byte[] key, CachedResponse stored)
    {
        RequestHead request = exchange.Request;
        if (request.Method != HttpMethod.Get || request.HasBody || !cache.Store.TryBeginRefresh(key))
        {
            return;
        }

        Destination? destination = exchange.Route!.PickUpstream()?.PickDestination(exchange);
        if (destination is null)
        {
            cache.Store.EndRefresh(key);
            return;
        }

        CacheLookupStep.AddValidators(exchange, stored);
        var pipe = new Pipe();
        UpstreamRequestWriter.Write(pipe.Writer, exchange, destination, upgrade: false);
        exchange.UpstreamFields = null;
        pipe.Writer.Complete();
        pipe.Reader.TryRead(out ReadResult written);
        byte[] head = written.Buffer.ToArray();
        pipe.Reader.Complete();
        destination.RequestStarted();
        _ = RunAsync(cache, key, stored, destination, head);
    }

    private static async Task RunAsync(RouteCache cache, byte[] key, CachedResponse stored, Destination destination, byte[] head)
    {
        long requestTime = cache.Now;
        UpstreamConnection? connection = null;
        bool reusable = false;
        try
        {
            connection = destination.Pool.TryRentIdle(out UpstreamConnection? idle) ? idle : await destination.Pool.ConnectAsync(CancellationToken.None);
            await connection.Output.WriteAsync(head);
            connection.ArmTimeout(destination.Pool.Settings.ResponseTimeout);
            ResponseHead response = connection.ResponseHead;
            while (true)
            {
                ReadResult read = await connection.Input.ReadAsync();
                ParseStatus status = ResponseHeadParser.TryParse(read.Buffer, response, HeadLimits.UpstreamResponse, out SequencePosition consumed, out SequencePosition examined, out _);
                connection.Input.AdvanceTo(consumed, examined);
                if (status == ParseStatus.Complete && response.StatusCode >= 200)
                {
                    break;
                }

                if (status == ParseStatus.Rejected || read.IsCompleted || read.IsCanceled)
                {
                    return;
                }
            }

            long now = cache.Now;
            CacheStore store = cache.Store;
            if (response.StatusCode == 304)
            {
                cache.Keep(key, stored.Refreshed(StoredHead.Fields(response, now), StoredHead.Times(requestTime, response, now)));
                store.Counters.Count(CacheEvent.Revalidated);
                reusable = !response.ConnectionClose;
                return;
            }

            store.Counters.Count(CacheEvent.RevalidationChanged);
            CacheDirectives directives = CacheDirectives.Parse(response);
            if (response.StatusCode != 200 || response.ContentLength < 0 || response.ContentLength > store.MaxObjectSize || directives.NoStore || directives.Private)
            {
                return;
            }

            byte[] body = new byte[response.ContentLength];
            int filled = 0;
            while (filled < body.Length)
            {
                ReadResult read = await connection.Input.ReadAsync();
                ReadOnlySequence<byte> piece = read.Buffer.Slice(0, Math.Min(read.Buffer.Length, body.Length - filled));
                piece.CopyTo(body.AsSpan(filled));
                filled += (int)piece.Length;
                connection.Input.AdvanceTo(piece.End);
                if (filled < body.Length && (read.IsCompleted || read.IsCanceled))
                {
                    return;
                }
            }

            var fresh = new CachedResponse(200, response.ReasonPhrase, StoredHead.Fields(response, now), body, StoredHead.Times(requestTime, response, now), stored.DefaultTtl)
            {
                Vary = stored.Vary,
                Tags = StoredHead.Tags(response),
                Consumer = stored.Consumer,
            };
            cache.Keep(key, fresh);
            store.Counters.Count(CacheEvent.Stored);
            reusable = !response.ConnectionClose;
        }
        catch (Exception e) when (e is UpstreamException or IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
        {
            // The stored response stays until it expires; the next request past the window revalidates in the foreground.
        }
        finally
        {
            if (connection is not null)
            {
                connection.DisarmTimeout();
                connection.Pool.Return(connection, reusable);
            }

            destination.RequestEnded();
            cache.Store.EndRefresh(key);
        }
    }
}
