using System.CommandLine;
using System.Reflection;
using HyperGate.Configuration;
using HyperGate.Hosting;
using HyperGate.Routing;
using HyperGate.Security;
using HyperGate.Tls;
using Microsoft.Extensions.Logging.Abstractions;

namespace HyperGate.Cli;

public static class Program
{
    private const string DefaultConfigPath = "conf/hypergate.toml";

    public static int Main(string[] args)
    {
        // First: OpenSSL reads its configuration once, as the first use of cryptography starts it.
        OpenSslDefaults.Apply();

        var configOption = new Option<string>("--config", "-c")
        {
            Description = "Path of the TOML config file.",
            DefaultValueFactory = _ => DefaultConfigPath,
        };
        var statsOption = new Option<bool>("--stats-on-exit")
        {
            Description = "On exit, print requests served and bytes allocated per request.",
        };

        var root = new RootCommand("HyperGate: an HTTP/1.1 API gateway.") { configOption, statsOption };
        root.SetAction(parse => Run(parse.GetValue(configOption)!, parse.GetValue(statsOption)));

        var checkConfigOption = new Option<string>("--config", "-c")
        {
            Description = "Path of the TOML config file to validate.",
            DefaultValueFactory = _ => DefaultConfigPath,
        };
        var check = new Command("check", "Validate a config file and exit: 0 when valid, 1 with every error listed.") { checkConfigOption };
        check.SetAction(parse => Check(parse.GetValue(checkConfigOption)!));
        root.Add(check);

        var keyArgument = new Argument<string>("key") { Description = "The API key to hash." };
        var hashKey = new Command("hash-key", "Print the sha256: hash of an API key, as [consumers.NAME] api_keys stores it.") { keyArgument };
        hashKey.SetAction(parse => Console.WriteLine(CredentialHashes.HashKey(parse.GetValue(keyArgument)!)));
        root.Add(hashKey);

        var passwordArgument = new Argument<string>("password") { Description = "The password to hash." };
        var hashPassword = new Command("hash-password", "Print the PBKDF2 hash of a password, as [consumers.NAME] basic.password_hash stores it.") { passwordArgument };
        hashPassword.SetAction(parse => Console.WriteLine(CredentialHashes.HashPassword(parse.GetValue(passwordArgument)!)));
        root.Add(hashPassword);

        var explainConfigOption = new Option<string>("--config", "-c")
        {
            Description = "Path of the TOML config file.",
            DefaultValueFactory = _ => DefaultConfigPath,
        };
        var methodArgument = new Argument<string>("method") { Description = "The request method, such as GET." };
        var urlArgument = new Argument<string>("url") { Description = "The request URL, such as http://api.example.com/users/7, or a path such as /users/7 (asked of localhost)." };
        var headerOption = new Option<string[]>("--header", "-H") { Description = "A request header, \"Name: value\"; repeatable." };
        var explain = new Command("explain", "Show which route a request would take, why the others did not match, and what would run.")
        {
            explainConfigOption, methodArgument, urlArgument, headerOption,
        };
        explain.SetAction(parse => Explain(parse.GetValue(explainConfigOption)!, parse.GetValue(methodArgument)!, parse.GetValue(urlArgument)!, parse.GetValue(headerOption) ?? []));
        root.Add(explain);

        return root.Parse(args).Invoke();
    }

    private static int Explain(string path, string method, string address, string[] headers)
    {
        if (!RouteExplainer.TryMakeUrl(address, "localhost", out Uri? url))
        {
            Console.Error.WriteLine($"hypergate explain: \"{address}\" is neither an http(s) URL nor a path");
            return 2;
        }

        List<KeyValuePair<string, string>> fields = RouteExplainer.ParseHeaders(headers);
        return TryLoad(path, "", out _, snapshot => Console.Write(RouteExplainer.Explain(snapshot, method, url, fields))) ? 0 : 1;
    }

    private static int Check(string path)
    {
        if (!TryLoad(path, "", out GatewayConfig? config))
        {
            return 1;
        }

        Console.WriteLine($"{path}: OK ({config!.Summary})");
        return 0;
    }

    private static int Run(string path, bool statsOnExit)
    {
        if (!TryLoad(path, "; the gateway was not started", out GatewayConfig? config))
        {
            return 1;
        }

        GatewayHost host;
        try
        {
            host = GatewayHost.StartAsync(config!, new GatewayHostOptions { ConsoleLogging = true }).GetAwaiter().GetResult();
        }
        catch (ConfigException e)
        {
            // An operator's mistake found while starting (an address in use or not permitted): one line each, no trace.
            PrintErrors(e.Errors);
            return 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"hypergate: cannot start: {e.GetBaseException().Message}");
            return 1;
        }

        Console.WriteLine($"HyperGate {Version} started with {path}; press Ctrl-C to stop.");
        using AllocationStats? stats = statsOnExit ? new AllocationStats(host.Runtime) : null;
        host.WaitForShutdownAsync().GetAwaiter().GetResult();
        stats?.Report();
        host.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return 0;
    }

    /// <summary>
    /// Loads and compiles the config; <paramref name="inspect"/> sees the compiled snapshot. A refused config is
    /// reported error by error, then a count followed by <paramref name="consequence"/>.
    /// </summary>
    private static bool TryLoad(string path, string consequence, out GatewayConfig? config, Action<GatewaySnapshot>? inspect = null)
    {
        config = null;
        try
        {
            config = ConfigLoader.Load(path);
            foreach (ConfigError warning in config.Warnings)
            {
                Console.Error.WriteLine($"{warning.Location}: warning: {warning.Message} (hint: {warning.Hint})");
            }

            // Compiling finds the errors that need the whole config at once (ambiguous routes). Nothing it
            // creates is started: pools are not connected, Redis and JWKS are only reached by a running gateway.
            GatewayRuntime runtime = GatewayRuntime.Create(config, TimeProvider.System, NullLoggerFactory.Instance);
            try
            {
                inspect?.Invoke(runtime.Snapshot);
            }
            finally
            {
                runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            return true;
        }
        catch (ConfigException e)
        {
            PrintErrors(e.Errors);
            Console.Error.WriteLine($"{path}: {(e.Errors.Count == 1 ? "1 error" : $"{e.Errors.Count} errors")}{consequence}.");
            return false;
        }
    }

    private static void PrintErrors(IEnumerable<ConfigError> errors)
    {
        foreach (ConfigError error in errors)
        {
            Console.Error.WriteLine(error);
        }
    }

    private static string Version =>
        typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
}
