using System.Buffers;
using System.Buffers.Text;
using System.Numerics;
using System.Text.Encodings.Web;
using System.Text.Json;
using HyperGate.Forwarding;
using HyperGate.Http1;

namespace HyperGate.Transforms.Json;

/// <summary>Where a body stopped being JSON: the byte offset from its start, and the line and byte in that line (1-based).</summary>
public sealed record JsonSyntaxError(long Offset, long Line, long Column, string Message);

/// <summary>
/// Applies a <see cref="JsonBodyTransform"/> to a JSON text token by token, without a DOM: each block given to
/// <see cref="Transform"/> is read with <see cref="Utf8JsonReader"/> as far as it holds whole tokens, and what was
/// read is written at once through <see cref="Utf8JsonWriter"/>; the caller keeps only the unread tail (at most one
/// token) for the next block. Memory is the window and the nesting stack, whatever the body's size. Values are copied
/// as their raw text (strings keep their escapes, numbers their spelling); member names are re-encoded only when
/// renamed or escaped.
/// </summary>
public sealed class JsonTransformer : IDisposable
{
    private const int MaxDepth = 64;
    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly JsonBodyTransform _transform;
    private readonly Exchange? _exchange;
    private readonly Utf8JsonWriter _writer;
    private readonly Frame[] _frames = new Frame[MaxDepth + 1];
    private JsonReaderState _state = new(new JsonReaderOptions { MaxDepth = MaxDepth });
    private int _count;
    private int _skipDepth;
    private bool _dropNext;
    private ulong _childPrefix;
    private bool _childKeepAll;
    private long _consumed;
    private byte[] _scratch = [];

    public JsonTransformer(JsonBodyTransform transform, Exchange? exchange, IBufferWriter<byte> output)
    {
        _transform = transform;
        _exchange = exchange;
        _writer = new Utf8JsonWriter(output, WriterOptions);
    }

    /// <summary>Set when the text is not JSON; nothing more is transformed.</summary>
    public JsonSyntaxError? Error { get; private set; }

    /// <summary>
    /// Transforms the whole tokens of <paramref name="block"/> (the unread tail of the last block, then new bytes);
    /// returns how many bytes were read. With <paramref name="final"/>, the block ends the text. False once the text
    /// proved not to be JSON (see <see cref="Error"/>).
    /// </summary>
    public bool Transform(ReadOnlySpan<byte> block, bool final, out int consumed)
    {
        var reader = new Utf8JsonReader(block, final, _state);
        try
        {
            while (reader.Read())
            {
                Handle(ref reader, block);
            }
        }
        catch (JsonException e)
        {
            Error = new JsonSyntaxError(_consumed + reader.BytesConsumed, (e.LineNumber ?? 0) + 1, (e.BytePositionInLine ?? 0) + 1, e.Message);
            consumed = (int)reader.BytesConsumed;
            return false;
        }

        _state = reader.CurrentState;
        consumed = (int)reader.BytesConsumed;
        _consumed += consumed;
        _writer.Flush();
        return true;
    }

    public void Dispose() => _writer.Dispose();

    private void Handle(ref Utf8JsonReader reader, ReadOnlySpan<byte> block)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.PropertyName:
                if (_skipDepth == 0)
                {
                    OnMember(ref reader);
                }

                break;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                if (_skipDepth > 0 || !BeginValue())
                {
                    _skipDepth++;
                    break;
                }

                bool isArray = reader.TokenType == JsonTokenType.StartArray;
                if (isArray)
                {
                    _writer.WriteStartArray();
                }
                else
                {
                    _writer.WriteStartObject();
                }

                _frames[_count++] = new Frame { IsArray = isArray, Prefix = _childPrefix, KeepAll = _childKeepAll };
                break;
            case JsonTokenType.EndObject or JsonTokenType.EndArray:
                if (_skipDepth > 0)
                {
                    _skipDepth--;
                    break;
                }

                ref Frame closing = ref _frames[_count - 1];
                if (!closing.IsArray)
                {
                    AddMissingSets(ref closing);
                    _writer.WriteEndObject();
                }
                else
                {
                    _writer.WriteEndArray();
                }

                _count--;
                break;
            default:
                if (_skipDepth == 0 && BeginValue())
                {
                    WriteScalar(ref reader, block);
                }

                break;
        }
    }

    /// <summary>Whether the value starting now is kept; sets what applies inside it.</summary>
    private bool BeginValue()
    {
        if (_dropNext)
        {
            _dropNext = false;
            return false;
        }

        if (_count == 0)
        {
            _childPrefix = _transform.AllRules;
            _childKeepAll = _transform.AllowMask == 0;
            return true;
        }

        ref Frame frame = ref _frames[_count - 1];
        if (!frame.IsArray)
        {
            return true;
        }

        // No rule reaches below this array (most arrays): the element is kept or dropped whole, as its array is.
        if (frame.Prefix == 0)
        {
            frame.Index++;
            _childPrefix = 0;
            _childKeepAll = frame.KeepAll;
            return frame.KeepAll;
        }

        // An array element: its segment is its index, which a rule names by '*' or by number.
        Span<byte> digits = stackalloc byte[11];
        Utf8Formatter.TryFormat(frame.Index++, digits, out int written);
        (ulong full, ulong prefix) = MatchIndex(frame.Prefix, _count - 1, digits[..written]);
        return Decide(ref frame, full, prefix);
    }

    private void OnMember(ref Utf8JsonReader reader)
    {
        ref Frame frame = ref _frames[_count - 1];
        if (frame.Prefix == 0 && frame.KeepAll)
        {
            // No rule reaches into this object: every member goes as it is.
            _childPrefix = 0;
            _childKeepAll = true;
            WriteName(ref reader);
            return;
        }

        int depth = _count - 1;
        ulong full = 0;
        ulong prefix = 0;
        for (ulong candidates = frame.Prefix; candidates != 0; candidates &= candidates - 1)
        {
            int i = BitOperations.TrailingZeroCount(candidates);
            JsonRule rule = _transform.Rules[i];
            byte[]? segment = rule.Path.Segments[depth];
            if (segment is null || reader.ValueTextEquals(segment))
            {
                if (rule.Path.Length == depth + 1)
                {
                    full |= 1UL << i;
                }
                else
                {
                    prefix |= 1UL << i;
                }
            }
        }

        ulong set = full & _transform.SetMask;
        if (set != 0 && (full & _transform.RemoveMask) == 0)
        {
            frame.SetDone |= set;
            WriteSet(_transform.First(set));
            _dropNext = true;
            return;
        }

        if (!Decide(ref frame, full, prefix))
        {
            _dropNext = true;
            return;
        }

        ulong rename = full & _transform.RenameMask;
        if (rename != 0)
        {
            _writer.WritePropertyName(_transform.First(rename).NewName);
        }
        else
        {
            WriteName(ref reader);
        }
    }

    private void WriteName(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            _writer.WritePropertyName(reader.ValueSpan);
        }
        else
        {
            _writer.WritePropertyName(Unescaped(ref reader));
        }
    }

    /// <summary>Remove wins; then an allow-list keeps only what it names, the ancestors of what it names, and their subtrees.</summary>
    private bool Decide(ref Frame frame, ulong full, ulong prefix)
    {
        if ((full & _transform.RemoveMask) != 0)
        {
            return false;
        }

        bool allowedWhole = frame.KeepAll || (full & _transform.AllowMask) != 0;
        if (!allowedWhole && (prefix & _transform.AllowMask) == 0)
        {
            return false;
        }

        _childPrefix = prefix;
        _childKeepAll = allowedWhole;
        return true;
    }

    /// <summary>The rules an array element (its index as text) matches, wholly or as a prefix.</summary>
    private (ulong Full, ulong Prefix) MatchIndex(ulong candidates, int depth, ReadOnlySpan<byte> index)
    {
        ulong full = 0;
        ulong prefix = 0;
        for (; candidates != 0; candidates &= candidates - 1)
        {
            int i = BitOperations.TrailingZeroCount(candidates);
            JsonRule rule = _transform.Rules[i];
            byte[]? segment = rule.Path.Segments[depth];
            if (segment is null || segment.AsSpan().SequenceEqual(index))
            {
                if (rule.Path.Length == depth + 1)
                {
                    full |= 1UL << i;
                }
                else
                {
                    prefix |= 1UL << i;
                }
            }
        }

        return (full, prefix);
    }

    /// <summary>An object ends: the set rules for its members that it did not have are added.</summary>
    private void AddMissingSets(ref Frame frame)
    {
        int depth = _count - 1;
        for (ulong pending = frame.Prefix & _transform.SetMask & ~frame.SetDone; pending != 0; pending &= pending - 1)
        {
            JsonRule rule = _transform.Rules[BitOperations.TrailingZeroCount(pending)];
            if (rule.Path.Length == depth + 1 && !rule.Path.EndsWithWildcard)
            {
                WriteSet(rule);
            }
        }
    }

    private void WriteSet(JsonRule rule)
    {
        _writer.WritePropertyName(rule.Path.Segments[^1]!);
        JsonSetValue value = rule.Value!;
        if (value.Json is { } json)
        {
            _writer.WriteRawValue(json, skipInputValidation: true);
            return;
        }

        var rendered = new ArrayBufferWriter<byte>(64);
        var output = new BufferSpanWriter(rendered);
        value.Template!.Render(ref output, _exchange!);
        _writer.WriteStringValue(rendered.WrittenSpan);
    }

    private void WriteScalar(ref Utf8JsonReader reader, ReadOnlySpan<byte> block)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                // The token as written, quotes and escapes included: nothing to decode or re-encode.
                _writer.WriteRawValue(block.Slice((int)reader.TokenStartIndex, reader.ValueSpan.Length + 2), skipInputValidation: true);
                break;
            case JsonTokenType.Number:
                _writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                break;
            case JsonTokenType.True:
                _writer.WriteBooleanValue(true);
                break;
            case JsonTokenType.False:
                _writer.WriteBooleanValue(false);
                break;
            case JsonTokenType.Null:
                _writer.WriteNullValue();
                break;
        }
    }

    private ReadOnlySpan<byte> Unescaped(ref Utf8JsonReader reader)
    {
        if (_scratch.Length < reader.ValueSpan.Length)
        {
            _scratch = new byte[Math.Max(256, reader.ValueSpan.Length)];
        }

        int length = reader.CopyString(_scratch);
        return _scratch.AsSpan(0, length);
    }

    private struct Frame
    {
        public bool IsArray;
        public bool KeepAll;
        public int Index;

        /// <summary>Rules whose path matches the path to this container so far.</summary>
        public ulong Prefix;

        /// <summary>Set rules already applied to a member of this object.</summary>
        public ulong SetDone;
    }
}
