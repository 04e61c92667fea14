using System.Buffers;
using System.Text;
using HyperGate.Http1;

namespace HyperGate.Routing;

/// <summary>The outcome of a route lookup.</summary>
public readonly record struct RouteMatch(Route? Route, RejectionReason Rejection, Route? MethodMismatch)
{
    public bool Success => Route is not null;

    /// <summary>
    /// Whether a path with an encoded slash must be refused: it was matched with the slash part of its segment, and
    /// only a route that keeps such paths (or, when none matched, the server-wide setting) lets it through, so that an
    /// upstream decoding <c>%2F</c> into a separator cannot be reached at a path no route meant to expose.
    /// </summary>
    public bool RefusesEncodedSlash(RequestHead request, bool keepByDefault) =>
        request.HasEncodedSlash && !((Route ?? MethodMismatch)?.KeepEncodedSlashes ?? keepByDefault);
}

/// <summary>
/// An immutable routing table, built once per config snapshot:
/// host (exact, then wildcard, then any) → path trie (exact beats prefix, longer prefix beats shorter)
/// → method and header predicates → priority. Lookups allocate nothing.
/// </summary>
public sealed class RouteTable
{
    private readonly Dictionary<string, PathTrie> _exactHosts;
    private readonly Dictionary<string, PathTrie>.AlternateLookup<ReadOnlySpan<char>> _exactHostLookup;
    private readonly (string Suffix, PathTrie Trie)[] _wildcardHosts;
    private readonly PathTrie _anyHost;
    private readonly bool _caseSensitive;

    private RouteTable(Dictionary<string, PathTrie> exactHosts, (string, PathTrie)[] wildcardHosts, PathTrie anyHost, IReadOnlyList<Route> routes, bool caseSensitive)
    {
        _caseSensitive = caseSensitive;
        _exactHosts = exactHosts;
        _exactHostLookup = exactHosts.GetAlternateLookup<ReadOnlySpan<char>>();
        _wildcardHosts = wildcardHosts;
        _anyHost = anyHost;
        Routes = routes;
    }

    public IReadOnlyList<Route> Routes { get; }

    /// <summary>
    /// Builds the table; routes that could never be told apart are reported as errors. When not
    /// <paramref name="caseSensitive"/>, paths match regardless of ASCII case (the path sent upstream keeps its case).
    /// </summary>
    public static RouteTable Build(IReadOnlyList<Route> routes, out List<string> ambiguities, bool caseSensitive = true)
    {
        ambiguities = [];
        var exactHosts = new Dictionary<string, PathTrie>(StringComparer.Ordinal);
        var wildcards = new Dictionary<string, PathTrie>(StringComparer.Ordinal);
        var anyHost = new PathTrie();
        foreach (Route route in routes)
        {
            PathTrie trie = route.Host switch
            {
                null => anyHost,
                ['*', '.', ..] => GetOrAdd(wildcards, route.Host[1..]),
                _ => GetOrAdd(exactHosts, route.Host),
            };
            trie.Add(route, caseSensitive);
        }

        foreach (PathTrie trie in exactHosts.Values.Concat(wildcards.Values).Append(anyHost))
        {
            trie.Seal(ambiguities);
        }

        // A longer wildcard suffix is more specific: "*.api.example.com" before "*.example.com".
        var wildcardList = wildcards.Select(pair => (pair.Key, pair.Value)).OrderByDescending(pair => pair.Key.Length).ToArray();
        return new RouteTable(exactHosts, wildcardList, anyHost, routes, caseSensitive);
    }

    private static PathTrie GetOrAdd(Dictionary<string, PathTrie> tries, string key)
    {
        if (!tries.TryGetValue(key, out PathTrie? trie))
        {
            tries[key] = trie = new PathTrie();
        }

        return trie;
    }

    public RouteMatch Match(RequestHead request)
    {
        if (_caseSensitive)
        {
            return Match(request.Host, request.NormalizedPath, request);
        }

        ReadOnlySpan<byte> path = request.NormalizedPath;
        byte[]? rented = null;
        Span<byte> lower = path.Length <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(path.Length));
        try
        {
            // Normalized paths are ASCII (the request-target was validated), so this lowercases every byte.
            Ascii.ToLower(path, lower, out int written);
            return Match(request.Host, lower[..written], request);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public RouteMatch Match(ReadOnlySpan<byte> hostHeader, ReadOnlySpan<byte> normalizedPath, RequestHead request)
    {
        Route? methodMismatch = null;
        if (_exactHosts.Count > 0 || _wildcardHosts.Length > 0)
        {
            // Hosts are ASCII and at most 255 bytes; lowercase them onto the stack, without the port.
            Span<char> host = stackalloc char[Math.Min(hostHeader.Length, 256)];
            int hostLength = LowercaseHostWithoutPort(hostHeader, host);
            host = host[..hostLength];

            if (_exactHosts.Count > 0 && _exactHostLookup.TryGetValue(host, out PathTrie? exact))
            {
                Route? route = exact.Match(normalizedPath, request, ref methodMismatch);
                if (route is not null)
                {
                    return new RouteMatch(route, RejectionReason.None, null);
                }
            }

            foreach ((string suffix, PathTrie trie) in _wildcardHosts)
            {
                // "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com".
                if (host.Length > suffix.Length && host.EndsWith(suffix, StringComparison.Ordinal))
                {
                    Route? route = trie.Match(normalizedPath, request, ref methodMismatch);
                    if (route is not null)
                    {
                        return new RouteMatch(route, RejectionReason.None, null);
                    }
                }
            }
        }

        Route? any = _anyHost.Match(normalizedPath, request, ref methodMismatch);
        if (any is not null)
        {
            return new RouteMatch(any, RejectionReason.None, null);
        }

        return methodMismatch is not null
            ? new RouteMatch(null, RejectionReason.MethodNotAllowed, methodMismatch)
            : new RouteMatch(null, RejectionReason.NoRoute, null);
    }

    private static int LowercaseHostWithoutPort(ReadOnlySpan<byte> host, Span<char> destination)
    {
        // "[::1]:8080" keeps its brackets; the port follows the last colon outside them.
        int end = host.Length;
        int colon = host.LastIndexOf((byte)':');
        if (colon >= 0 && host.LastIndexOf((byte)']') < colon)
        {
            end = colon;
        }

        end = Math.Min(end, destination.Length);
        for (int i = 0; i < end; i++)
        {
            destination[i] = (char)(byte)(host[i] | (host[i] is >= (byte)'A' and <= (byte)'Z' ? 0x20 : 0));
        }

        return end;
    }

    /// <summary>Splits a normalized path into segments: "/" → none, "/a/b" → a, b; "/a/" → a, "".</summary>
    internal static int NextSegment(ReadOnlySpan<byte> path, int start, out ReadOnlySpan<byte> segment)
    {
        ReadOnlySpan<byte> rest = path[start..];
        int slash = rest.IndexOf((byte)'/');
        segment = slash < 0 ? rest : rest[..slash];
        return slash < 0 ? path.Length + 1 : start + slash + 1;
    }

    internal sealed class PathTrie
    {
        private readonly Node _root = new([]);

        public void Add(Route route, bool caseSensitive)
        {
            Node node = _root;
            foreach (TemplateSegment segment in route.Template.Segments)
            {
                switch (segment.Kind)
                {
                    case TemplateSegmentKind.Literal:
                        node = node.GetOrAddChild(Encoding.ASCII.GetBytes(caseSensitive ? segment.Text : segment.Text.ToLowerInvariant()));
                        break;
                    case TemplateSegmentKind.Parameter:
                        node = node.GetOrAddParameter();
                        break;
                    case TemplateSegmentKind.CatchAll:
                        node.CatchAll.Add(route);
                        return;
                }
            }

            (route.PathKind == PathMatchKind.Exact ? node.Exact : node.Prefix).Add(route);
        }

        public void Seal(List<string> ambiguities) => _root.Seal(ambiguities);

        /// <summary>
        /// Walks down as far as the path goes, a literal segment before a parameter (trying the parameter when the
        /// literal branch finds nothing), then back up trying catch-alls and prefix routes: the exact route of the
        /// whole path first, then the deepest. Each node is visited at most once, so a lookup is bounded by the trie.
        /// </summary>
        public Route? Match(ReadOnlySpan<byte> path, RequestHead request, ref Route? methodMismatch)
        {
            request.PathCaptures.Clear();
            return Walk(_root, path, path.Length > 1 ? 1 : path.Length + 1, request, ref methodMismatch);
        }

        private static Route? Walk(Node node, ReadOnlySpan<byte> path, int position, RequestHead request, ref Route? methodMismatch)
        {
            PathCaptures captures = request.PathCaptures;
            int captured = captures.Count;
            if (position > path.Length)
            {
                Route? exact = Select(node.SealedExact, request, ref methodMismatch);
                if (exact is not null)
                {
                    return exact;
                }
            }
            else
            {
                int next = NextSegment(path, position, out ReadOnlySpan<byte> segment);
                if (node.FindChild(segment) is { } child && Walk(child, path, next, request, ref methodMismatch) is { } literal)
                {
                    return literal;
                }

                // A parameter captures one whole, non-empty segment.
                if (node.Parameter is { } parameter && !segment.IsEmpty)
                {
                    captures.Truncate(captured);
                    captures.Add(position, segment.Length);
                    if (Walk(parameter, path, next, request, ref methodMismatch) is { } matched)
                    {
                        return matched;
                    }
                }
            }

            captures.Truncate(captured);
            if (node.SealedCatchAll.Length > 0)
            {
                // The rest of the path after this node's segment: "" when the path ends here.
                int start = Math.Min(position, path.Length);
                captures.Add(start, path.Length - start);
                Route? rest = Select(node.SealedCatchAll, request, ref methodMismatch);
                if (rest is not null)
                {
                    return rest;
                }

                captures.Truncate(captured);
            }

            return Select(node.SealedPrefix, request, ref methodMismatch);
        }

        private static Route? Select(Route[] candidates, RequestHead request, ref Route? methodMismatch)
        {
            foreach (Route route in candidates)
            {
                if (!route.MatchesPredicates(request))
                {
                    continue;
                }

                if (route.AcceptsMethod(request.MethodBytes))
                {
                    return route;
                }

                methodMismatch ??= route;
            }

            return null;
        }

        private sealed class Node(byte[] segment)
        {
            // While building, children are found by segment text; Seal turns them into a sorted array.
            private readonly Dictionary<string, Node> _building = new(StringComparer.Ordinal);
            private Node[] _children = [];

            public byte[] Segment { get; } = segment;

            public List<Route> Exact { get; } = [];

            public List<Route> Prefix { get; } = [];

            /// <summary>Routes whose template ends with a catch-all after this node's segment.</summary>
            public List<Route> CatchAll { get; } = [];

            /// <summary>The child standing for a parameter segment, when some route has one here.</summary>
            public Node? Parameter { get; private set; }

            public Route[] SealedCatchAll { get; private set; } = [];

            public Route[] SealedExact { get; private set; } = [];

            public Route[] SealedPrefix { get; private set; } = [];

            /// <summary>Children are sorted by segment bytes, so lookup is a binary search with no allocation.</summary>
            public Node? FindChild(ReadOnlySpan<byte> segment)
            {
                Node[] children = _children;
                int low = 0;
                int high = children.Length - 1;
                while (low <= high)
                {
                    int middle = (low + high) >>> 1;
                    int comparison = children[middle].Segment.AsSpan().SequenceCompareTo(segment);
                    if (comparison == 0)
                    {
                        return children[middle];
                    }

                    if (comparison < 0)
                    {
                        low = middle + 1;
                    }
                    else
                    {
                        high = middle - 1;
                    }
                }

                return null;
            }

            public Node GetOrAddParameter() => Parameter ??= new Node("{}"u8.ToArray());

            public Node GetOrAddChild(ReadOnlySpan<byte> segment)
            {
                string key = Encoding.Latin1.GetString(segment);
                if (!_building.TryGetValue(key, out Node? child))
                {
                    _building[key] = child = new Node(segment.ToArray());
                }

                return child;
            }

            public void Seal(List<string> ambiguities)
            {
                SealedExact = SortAndCheck(Exact, ambiguities);
                SealedPrefix = SortAndCheck(Prefix, ambiguities);
                SealedCatchAll = SortAndCheck(CatchAll, ambiguities);
                Parameter?.Seal(ambiguities);
                Node[] children = [.. _building.Values];
                Array.Sort(children, (a, b) => a.Segment.AsSpan().SequenceCompareTo(b.Segment));
                _children = children;
                foreach (Node child in _children)
                {
                    child.Seal(ambiguities);
                }
            }

            private static Route[] SortAndCheck(List<Route> routes, List<string> ambiguities)
            {
                Route[] sorted = [.. routes];

                // A stable sort keeps config order among equals, which only matters for error messages.
                Route[] ordered = [.. sorted.Order(Comparer<Route>.Create(Route.CompareSpecificity))];
                for (int i = 0; i < ordered.Length; i++)
                {
                    for (int j = i + 1; j < ordered.Length; j++)
                    {
                        if (AreAmbiguous(ordered[i], ordered[j]))
                        {
                            ambiguities.Add($"routes \"{ordered[i].Name}\" and \"{ordered[j].Name}\" match the same requests");
                        }
                    }
                }

                return ordered;
            }

            private static bool AreAmbiguous(Route a, Route b)
            {
                bool methodsOverlap = a.Methods.Length == 0 || b.Methods.Length == 0
                    || a.Methods.Intersect(b.Methods, StringComparer.Ordinal).Any();
                bool samePredicates = a.Predicates.Select(p => p.Key).ToHashSet().SetEquals(b.Predicates.Select(p => p.Key));
                return a.Priority == b.Priority && methodsOverlap && samePredicates && (a.Methods.Length > 0) == (b.Methods.Length > 0);
            }
        }
    }
}
