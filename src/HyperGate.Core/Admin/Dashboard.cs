using Microsoft.AspNetCore.Http;

namespace HyperGate.Admin;

/// <summary>The dashboard page: one self-contained HTML file embedded in the binary (no CDN; works offline).</summary>
public static class Dashboard
{
    private static readonly byte[] Page = Load();

    public static Task WritePageAsync(HttpContext context)
    {
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        return context.Response.Body.WriteAsync(Page).AsTask();
    }

    private static byte[] Load()
    {
        using Stream stream = typeof(Dashboard).Assembly.GetManifestResourceStream("HyperGate.Admin.dashboard.html")
            ?? throw new InvalidOperationException("the dashboard page is not embedded");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
