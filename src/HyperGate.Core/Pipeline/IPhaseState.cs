namespace HyperGate.Pipeline;

/// <summary>
/// What a request step hands to the later phases of the same exchange (a cache lookup's key and stored response).
/// <see cref="End"/> runs once when the exchange ends, however it ended.
/// </summary>
public interface IPhaseState
{
    void End();
}
