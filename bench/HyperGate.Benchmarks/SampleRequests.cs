using System.Text;

namespace HyperGate.Benchmarks;

/// <summary>Request heads of realistic shapes, as clients send them.</summary>
public static class SampleRequests
{
    /// <summary>What `curl http://host/path` sends: about 80 bytes.</summary>
    public static readonly byte[] Curl = Encoding.ASCII.GetBytes(
        "GET /users/7 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n");

    /// <summary>A browser navigation with cookies: about 700 bytes.</summary>
    public static readonly byte[] Browser = Encoding.ASCII.GetBytes(
        "GET /users/7/orders?page=2&sort=desc HTTP/1.1\r\n" +
        "Host: api.example.com\r\n" +
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n" +
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
        "Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n" +
        "Accept-Encoding: gzip, deflate, br, zstd\r\n" +
        "Referer: https://app.example.com/dashboard\r\n" +
        "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; _ga=GA1.2.1234567890.1700000000; consent=yes; region=eu-west\r\n" +
        "Sec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: same-site\r\n" +
        "Upgrade-Insecure-Requests: 1\r\nConnection: keep-alive\r\n\r\n");

    /// <summary>An API call with a 1 KB bearer token and a JSON body announced.</summary>
    public static readonly byte[] ApiWithToken = Encoding.ASCII.GetBytes(
        "POST /api/v1/orders HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nAccept: application/json\r\n" +
        "Authorization: Bearer " + new string('x', 1024) + "\r\n" +
        "X-Request-Id: 3f2b8c1e-7d4a-4b9e-9c1f-2a6d8e0b5c7a\r\nContent-Length: 256\r\n\r\n");

    public static readonly byte[] Response = Encoding.ASCII.GetBytes(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nDate: Mon, 23 Nov 2026 10:00:00 GMT\r\n" +
        "Server: Kestrel\r\nCache-Control: no-store\r\nContent-Length: 512\r\n\r\n");
}
