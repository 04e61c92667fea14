namespace HyperGate.Transport;

/// <summary>
/// A transport connection whose objects (pipes, buffers' bookkeeping) can serve a later connection once this one is
/// closed, so that accepting and opening connections does not allocate them again.
/// </summary>
public interface IRecyclableConnection
{
    /// <summary>
    /// Called by the connection's last owner before it disposes the connection: once the owner has taken the result of
    /// the dispose, nothing of it uses the connection, its pipes or its features any more.
    /// </summary>
    void RecycleOnDispose();

    /// <summary>
    /// Disposes the connection for an owner that will not wait for the close, with the same promise: nothing of the
    /// owner uses the connection any more. It is recycled once closed.
    /// </summary>
    void CloseAndRecycle();
}
