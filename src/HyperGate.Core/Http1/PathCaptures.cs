namespace HyperGate.Http1;

/// <summary>
/// The path parameters the matched route captured, as ranges of the normalized path, in the order of the route's
/// template (see the route's path template). A fixed array per request head: capturing allocates nothing.
/// </summary>
public sealed class PathCaptures
{
    public const int Capacity = 16;

    private readonly (int Start, int Length)[] _ranges = new (int, int)[Capacity];

    public int Count { get; private set; }

    public void Clear() => Count = 0;

    /// <summary>Keeps the first <paramref name="count"/> captures (a match that backtracked drops the others).</summary>
    public void Truncate(int count) => Count = count;

    public void Add(int start, int length) => _ranges[Count++] = (start, length);

    public (int Start, int Length) this[int index] => _ranges[index];
}
