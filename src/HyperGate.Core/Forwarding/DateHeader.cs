using System.Text;

namespace HyperGate.Forwarding;

/// <summary>The "Date: …\r\n" line for responses the gateway writes itself, re-formatted once a second, not per request.</summary>
public sealed class DateHeader : IDisposable
{
    private readonly TimeProvider _timeProvider;
    private readonly ITimer _timer;
    private byte[] _line;

    public DateHeader(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _line = Format(timeProvider.GetUtcNow());
        _timer = timeProvider.CreateTimer(_ => Volatile.Write(ref _line, Format(_timeProvider.GetUtcNow())), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public ReadOnlySpan<byte> Line => Volatile.Read(ref _line);

    // RFC 9110 §5.6.7: IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
    private static byte[] Format(DateTimeOffset now) => Encoding.ASCII.GetBytes($"Date: {now.UtcDateTime:R}\r\n");

    public void Dispose() => _timer.Dispose();
}
