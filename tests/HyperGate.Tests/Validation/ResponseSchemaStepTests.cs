using System.IO.Pipelines;
using System.Net;
using System.Text;
using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;
using HyperGate.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace HyperGate.Tests.Validation;

/// <summary>A response that breaks its contract, in "log" mode: counted, logged at most once a second, and sent on.</summary>
public class ResponseSchemaStepTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly CapturingLogger _log = new();

    private ResponseBodyVerdict Check(ResponseSchemaStep step, string json)
    {
        using var exchange = new Exchange(new Pipe().Reader, new Pipe().Writer, IPAddress.Loopback, isHttps: false);
        using var response = new ResponseHead();
        return step.OnResponseBody(exchange, response, Encoding.UTF8.GetBytes(json), out _);
    }

    private ResponseSchemaStep Step(bool strict) =>
        new(JsonSchemaValidator.Load("""{"required":["id"]}""", "account.json", out _)!, 1024, strict, _log, _time);

    [Fact]
    public void LogMode_SendsTheResponse_AndLogsAtMostOnceASecond_SayingHowManyWereNot()
    {
        ResponseSchemaStep step = Step(strict: false);

        Assert.Equal(ResponseBodyVerdict.Unchanged, Check(step, """{"name":"x"}"""));
        Assert.Equal(ResponseBodyVerdict.Unchanged, Check(step, """{"name":"y"}"""));
        Assert.Equal(ResponseBodyVerdict.Unchanged, Check(step, """{"id":1}"""));
        _time.Advance(TimeSpan.FromSeconds(1));
        Check(step, """{"name":"z"}""");

        Assert.Equal(2, _log.Lines.Count);
        Assert.Contains("breaks account.json (/: required:", _log.Lines[0]);
        Assert.Contains("0 more since the last report", _log.Lines[0]);
        Assert.Contains("1 more since the last report", _log.Lines[1]);
    }

    [Fact]
    public void StrictMode_FailsTheResponse()
    {
        Assert.Equal(ResponseBodyVerdict.Failed, Check(Step(strict: true), """{"name":"x"}"""));
        Assert.Equal(ResponseBodyVerdict.Unchanged, Check(Step(strict: true), """{"id":1}"""));
    }

    private sealed class CapturingLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }
}
