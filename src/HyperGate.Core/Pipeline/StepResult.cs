using HyperGate.Http1;

namespace HyperGate.Pipeline;

/// <summary>What a step decided about the exchange.</summary>
public enum StepVerdict : byte
{
    /// <summary>The next step runs.</summary>
    Continue,

    /// <summary>The gateway answers with the rejection's error response; no later step runs.</summary>
    Refuse,

    /// <summary>The step wrote the whole response itself; no later step runs.</summary>
    Answered,
}

/// <summary>A step's answer: continue, refuse (with an extra field line such as WWW-Authenticate), or "I answered".</summary>
public readonly struct StepResult
{
    private StepResult(StepVerdict verdict, RejectionReason rejection, byte[]? field, bool keepAlive)
    {
        Verdict = verdict;
        Rejection = rejection;
        Field = field;
        KeepAlive = keepAlive;
    }

    public static StepResult Continue => default;

    public StepVerdict Verdict { get; }

    /// <summary>Why the request is refused, for <see cref="StepVerdict.Refuse"/>.</summary>
    public RejectionReason Rejection { get; }

    /// <summary>A whole field line the refusal carries, or null.</summary>
    public byte[]? Field { get; }

    /// <summary>For <see cref="StepVerdict.Answered"/>: whether the connection can carry another request.</summary>
    public bool KeepAlive { get; }

    public static StepResult Refuse(RejectionReason rejection, byte[]? field = null) => new(StepVerdict.Refuse, rejection, field, keepAlive: false);

    public static StepResult Answered(bool keepAlive) => new(StepVerdict.Answered, RejectionReason.None, null, keepAlive);
}
