using HyperGate.Forwarding;
using HyperGate.Http1;
using HyperGate.Pipeline;
using HyperGate.Tests.Security;
using Xunit;

namespace HyperGate.Tests.Pipeline;

public class RoutePhasesTests
{
    private sealed class RecordingStep(string name, List<string> ran, StepResult result, Task? wait = null) : RequestStep
    {
        public override ValueTask<StepResult> RunAsync(Exchange exchange)
        {
            ran.Add(name);
            return wait is null ? ValueTask.FromResult(result) : WaitAsync();
        }

        private async ValueTask<StepResult> WaitAsync()
        {
            await wait!;
            return result;
        }
    }

    [Fact]
    public async Task EveryStepRunsInOrder_WhenEachContinues()
    {
        var ran = new List<string>();
        var phases = new RoutePhases([new RecordingStep("a", ran, StepResult.Continue), new RecordingStep("b", ran, StepResult.Continue)], []);

        StepResult result = await phases.RunRequestAsync(TestTokens.Request());

        Assert.Equal(StepVerdict.Continue, result.Verdict);
        Assert.Equal(["a", "b"], ran);
    }

    [Fact]
    public async Task TheFirstRefusal_EndsThePhase_WithItsReasonAndField()
    {
        var ran = new List<string>();
        byte[] challenge = "WWW-Authenticate: Bearer\r\n"u8.ToArray();
        var phases = new RoutePhases(
            [new RecordingStep("auth", ran, StepResult.Refuse(RejectionReason.Unauthorized, challenge)), new RecordingStep("limit", ran, StepResult.Continue)], []);

        StepResult result = await phases.RunRequestAsync(TestTokens.Request());

        Assert.Equal(StepVerdict.Refuse, result.Verdict);
        Assert.Equal(RejectionReason.Unauthorized, result.Rejection);
        Assert.Same(challenge, result.Field);
        Assert.Equal(["auth"], ran);
    }

    [Fact]
    public async Task AStepThatWaits_IsAwaited_AndTheRestRunAfterIt()
    {
        var ran = new List<string>();
        var release = new TaskCompletionSource();
        var phases = new RoutePhases(
            [new RecordingStep("slow", ran, StepResult.Continue, release.Task), new RecordingStep("answer", ran, StepResult.Answered(keepAlive: true)), new RecordingStep("never", ran, StepResult.Continue)], []);

        ValueTask<StepResult> pending = phases.RunRequestAsync(TestTokens.Request());
        Assert.False(pending.IsCompleted);
        Assert.Equal(["slow"], ran);

        release.SetResult();
        StepResult result = await pending;

        Assert.Equal(StepVerdict.Answered, result.Verdict);
        Assert.True(result.KeepAlive);
        Assert.Equal(["slow", "answer"], ran);
    }
}
