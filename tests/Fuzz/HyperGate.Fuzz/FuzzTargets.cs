using System.Buffers;
using System.IO.Pipelines;
using HyperGate.Http1;

namespace HyperGate.Fuzz;

/// <summary>
/// What the fuzzer drives. Each target must never throw on any input; where two code paths must agree
/// (contiguous and segmented parsing), a disagreement is thrown as a finding too.
/// </summary>
public static class FuzzTargets
{
    private static readonly HeadLimits Limits = new(8 * 1024, 64, 2 * 1024);

    public static void Run(string target, byte[] input)
    {
        switch (target)
        {
            case "request": RequestHead(input); break;
            case "response": ResponseHead(input); break;
            case "chunked": Chunked(input); break;
            default: throw new ArgumentException($"unknown target {target}; use request, response or chunked");
        }
    }

    /// <summary>The request-head parser, then path normalization, as the request loop runs them.</summary>
    public static void RequestHead(byte[] input)
    {
        using var contiguous = new RequestHead();
        using var segmented = new RequestHead();
        ParseStatus a = RequestHeadParser.TryParse(new ReadOnlySequence<byte>(input), contiguous, Limits, out _, out _, out RejectionReason ra);
        ParseStatus b = RequestHeadParser.TryParse(Split(input), segmented, Limits, out _, out _, out RejectionReason rb);
        Agree(a, ra, b, rb);
        if (a == ParseStatus.Complete)
        {
            RejectionReason path = contiguous.NormalizePath();
            if (path == RejectionReason.None && (contiguous.NormalizedPath.IsEmpty || contiguous.NormalizedPath[0] != '/'))
            {
                throw new InvalidOperationException("a normalized path must start with /");
            }
        }
    }

    public static void ResponseHead(byte[] input)
    {
        using var contiguous = new ResponseHead();
        using var segmented = new ResponseHead();
        ParseStatus a = ResponseHeadParser.TryParse(new ReadOnlySequence<byte>(input), contiguous, Limits, out _, out _, out RejectionReason ra);
        ParseStatus b = ResponseHeadParser.TryParse(Split(input), segmented, Limits, out _, out _, out RejectionReason rb);
        Agree(a, ra, b, rb);
        if (a == ParseStatus.Complete)
        {
            _ = contiguous.GetBodyFraming(HttpMethod.Get);
        }
    }

    /// <summary>The chunked decoder, fed in two writes, writing to a pipe that is drained.</summary>
    public static void Chunked(byte[] input)
    {
        var source = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var destination = new Pipe(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        int half = input.Length / 2;
        source.Writer.Write(input.AsSpan(0, half));
        source.Writer.FlushAsync().GetAwaiter().GetResult();
        source.Writer.Write(input.AsSpan(half));
        source.Writer.Complete();
        ChunkedBody.CopyAsync(source.Reader, destination.Writer, 1 << 20, dechunk: false, guard: null, CancellationToken.None).GetAwaiter().GetResult();
    }

    private static void Agree(ParseStatus a, RejectionReason ra, ParseStatus b, RejectionReason rb)
    {
        if (a != b || ra != rb)
        {
            throw new InvalidOperationException($"contiguous gave {a}/{ra}, segmented gave {b}/{rb}");
        }
    }

    /// <summary>The same bytes in three segments, cut at points the input itself chooses.</summary>
    private static ReadOnlySequence<byte> Split(byte[] input)
    {
        if (input.Length < 3)
        {
            return new ReadOnlySequence<byte>(input);
        }

        int first = 1 + (input[0] % (input.Length - 2));
        int second = first + 1 + (input[^1] % (input.Length - first - 1));
        var a = new Segment(input.AsMemory(0, first), 0);
        Segment b = a.Append(input.AsMemory(first, second - first));
        Segment c = b.Append(input.AsMemory(second));
        return new ReadOnlySequence<byte>(a, 0, c, c.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
