using HyperGate.FunctionalTests.Infrastructure;
using Microsoft.Playwright;

namespace HyperGate.FunctionalTests;

/// <summary>The dashboard in a real browser: headless Chromium (the system's) driven by Playwright.</summary>
public class DashboardTests
{
    /// <summary>Where the screenshot is kept, next to the test results.</summary>
    private static readonly string ArtifactDirectory = Path.Combine(AppContext.BaseDirectory, "artifacts");

    [Fact]
    public async Task Dashboard_ListsEveryRoute_AndItsCounterRisesWhileTrafficFlows()
    {
        await using TestUpstream upstream = await TestUpstream.StartAsync();
        await using TestGateway gateway = await TestGateway.StartAsync($"""
            [server]
            listen = ["127.0.0.1:0"]
            listen_tls = ["127.0.0.1:0"]
            watch_config = false

            [tls]
            certificates = [{"{"} self_signed = ["dash.test"] {"}"}]

            [admin]
            listen = "127.0.0.1:0"

            [upstreams.backend]
            targets = ["{upstream.Address}"]

            [routes.users]
            path_prefix = "/users"
            upstream = "backend"

            [routes.orders]
            path_prefix = "/orders"
            upstream = "backend"

            [routes.ping]
            path = "/ping"
            respond = {"{"} status = 200, body = "pong" {"}"}
            """);

        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = TestTools.Chromium,
            Headless = true,
            Args = ["--no-sandbox"],
        });
        IPage page = await browser.NewPageAsync();
        await page.GotoAsync(gateway.AdminUri.ToString());

        // Every configured route has its row before any traffic.
        foreach (string route in new[] { "users", "orders", "ping" })
        {
            await page.Locator($"tr[data-route='{route}']").WaitForAsync(new LocatorWaitForOptions { Timeout = 30_000 });
        }

        Assert.Equal("0", await page.Locator("#total-requests").TextContentAsync());

        // Certificates with their expiry: a self-signed one is made for 30 days.
        ILocator certificate = page.Locator("tr[data-certificate='dash.test'] td");
        Assert.Equal("dash.test", await certificate.Nth(0).TextContentAsync());
        Assert.Equal("30", await certificate.Nth(3).TextContentAsync());

        // Traffic flows until the page shows it (the page polls every second).
        using var stop = new CancellationTokenSource();
        Task traffic = Task.Run(async () =>
        {
            using HttpClient client = gateway.CreateClient();
            while (!stop.IsCancellationRequested)
            {
                await client.GetAsync("/users/1");
                await client.GetAsync("/ping");
            }
        });
        await page.WaitForFunctionAsync(
            "() => Number(document.querySelector('#total-requests').textContent) >= 20 && Number(document.querySelector('#rps').textContent) > 0",
            null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        stop.Cancel();
        await traffic;

        string usersTotal = await page.Locator("tr[data-route='users'] td.requests").TextContentAsync() ?? "0";
        Assert.True(long.Parse(usersTotal) > 0);
        Assert.Equal(upstream.Address, await page.Locator($"tr[data-destination='{upstream.Address}'] td").Nth(1).TextContentAsync());

        Directory.CreateDirectory(ArtifactDirectory);
        string screenshot = Path.Combine(ArtifactDirectory, "dashboard.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 0);
    }
}
