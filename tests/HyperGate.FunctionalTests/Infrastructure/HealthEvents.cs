using HyperGate.Upstreams;
using HyperGate.Upstreams.Health;

namespace HyperGate.FunctionalTests.Infrastructure;

/// <summary>Health changes as the gateway raises them: a test waits for the event, not for time to pass.</summary>
public static class HealthEvents
{
    /// <summary>Completes with the next health the destination at <paramref name="address"/> changes to.</summary>
    public static Task<DestinationHealth> NextChangeAsync(UpstreamConnectionManager connections, string address)
    {
        var changed = new TaskCompletionSource<DestinationHealth>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChange(Upstream upstream, Destination destination, DestinationHealth health)
        {
            if (destination.Address == address && changed.TrySetResult(health))
            {
                connections.HealthChanged -= OnChange;
            }
        }

        connections.HealthChanged += OnChange;
        return changed.Task;
    }
}
