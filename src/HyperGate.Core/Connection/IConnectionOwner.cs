namespace HyperGate.Connection;

/// <summary>What accepted a client connection: it may ask the connection to close, and is told when the gateway is done with it.</summary>
public interface IConnectionOwner
{
    /// <summary>Cancelled when its connections are to close: idle ones at once, busy ones after their response.</summary>
    CancellationToken CloseRequested { get; }

    /// <summary>Cancelled when its connections still open are to be aborted.</summary>
    CancellationToken AbortRequested { get; }

    /// <summary>The connection is served no longer; called before it is closed (a close may wait for the client).</summary>
    void ConnectionEnded();

    /// <summary>The connection is closed.</summary>
    void ConnectionClosed();
}
