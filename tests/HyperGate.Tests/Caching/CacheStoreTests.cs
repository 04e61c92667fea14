using System.Text;
using HyperGate.Caching;
using Xunit;

namespace HyperGate.Tests.Caching;

public class CacheStoreTests
{
    private static CachedResponse Response(int bodySize, params string[] tags) =>
        new(200, "OK"u8, "Cache-Control: max-age=60\r\n"u8.ToArray(), new byte[bodySize], new CacheTimes(0, 0, 0, 0, 60), null) { Tags = tags };

    private static byte[] Key(string url) => Encoding.ASCII.GetBytes(url);

    private static void Put(CacheStore store, string url, int bodySize = 1000, params string[] tags) => store.Store(Key(url), Response(bodySize, tags));

    [Fact]
    public void TheStore_NeverHoldsMoreThanMaxSize()
    {
        var store = new CacheStore(maxSize: 100_000, maxObjectSize: 10_000);
        for (int i = 0; i < 1000; i++)
        {
            Put(store, $"http://a.test/{i}");
            Assert.InRange(store.Bytes, 0, store.MaxSize);
        }

        Assert.True(store.Counters[CacheEvent.Evicted] > 0);
        Assert.Equal(store.Bytes, Enumerable.Range(0, 1000).Select(i => store.Find(Key($"http://a.test/{i}"))).Where(o => o is not null).Sum(o => o!.Size));
    }

    [Fact]
    public void AnObjectLargerThanMaxObjectSize_IsNotStored()
    {
        var store = new CacheStore(maxSize: 1_000_000, maxObjectSize: 10_000);
        Put(store, "http://a.test/big", bodySize: 20_000);

        Assert.Null(store.Find(Key("http://a.test/big")));
        Assert.Equal(0, store.Bytes);
    }

    [Fact]
    public void ACrawlOfOneOffUrls_DoesNotFlushThePopularOnes()
    {
        var store = new CacheStore(maxSize: 200_000, maxObjectSize: 10_000);
        string[] popular = [.. Enumerable.Range(0, 50).Select(i => $"http://a.test/popular/{i}")];
        foreach (string url in popular)
        {
            Put(store, url);
        }

        // Hit twice: S3-FIFO moves them out of probation into the main queue when probation must shrink.
        foreach (string url in popular.Concat(popular))
        {
            Assert.NotNull(store.Find(Key(url)));
        }

        for (int i = 0; i < 5000; i++)
        {
            Put(store, $"http://a.test/crawl/{i}");
        }

        Assert.All(popular, url => Assert.NotNull(store.Find(Key(url))));
        Assert.InRange(store.Bytes, 0, store.MaxSize);
    }

    [Fact]
    public void Variants_ReplaceTheOneWithTheSameVaryValues_AndAddOthers()
    {
        var store = new CacheStore(maxSize: 1_000_000, maxObjectSize: 10_000);
        CachedResponse Variant(int bodySize, string language) => new(200, "OK"u8, "Vary: Accept-Language\r\n"u8.ToArray(), new byte[bodySize], default, null)
        {
            Vary = [("Accept-Language"u8.ToArray(), Encoding.ASCII.GetBytes(language))],
        };
        store.Store(Key("http://a.test/v"), Variant(10, "en"));
        store.Store(Key("http://a.test/v"), Variant(20, "de"));
        store.Store(Key("http://a.test/v"), Variant(30, "en"));

        // RFC 9111 §4.1: a response for the same Vary values supersedes the stored one; another value is another variant.
        Assert.Equal([20, 30], store.Find(Key("http://a.test/v"))!.Variants.Select(v => v.Body.Length));
    }

    [Fact]
    public void Purges_ByPrefixAndByTag_SayHowManyWent()
    {
        var store = new CacheStore(maxSize: 1_000_000, maxObjectSize: 10_000);
        Put(store, "http://a.test/products/1", tags: "product-1");
        Put(store, "http://a.test/products/2", tags: ["product-2", "sale"]);
        Put(store, "http://a.test/users/1", tags: "sale");

        Assert.Equal(2, store.RemoveWhere(key => key.AsSpan().StartsWith("http://a.test/products/"u8)));
        Assert.Equal(1, store.RemoveWhere(_ => true, response => response.Tags.Contains("sale")));
        Assert.Equal(0, store.Objects);
        Assert.Equal(0, store.Bytes);
    }
}
