using System.Globalization;

namespace HyperGate.Configuration;

/// <summary>Parses the duration and size notations used in config files.</summary>
public static class Units
{
    /// <summary>"250ms", "10s", "5m", "1h", "365d"; a whole number followed by its unit.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        (string number, string unit) = Split(text.Trim());
        if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            return false;
        }

        long? milliseconds = unit switch
        {
            "ms" => value,
            "s" => value * 1000,
            "m" => value * 60_000,
            "h" => value * 3_600_000,
            "d" => value * 86_400_000,
            _ => null,
        };
        if (milliseconds is null || value > 100_000_000)
        {
            return false;
        }

        duration = TimeSpan.FromMilliseconds(milliseconds.Value);
        return true;
    }

    /// <summary>"512", "64KB", "10MB", "1GB" (binary multiples: 1KB = 1024 bytes); "KiB"/"MiB"/"GiB" also accepted.</summary>
    public static bool TryParseSize(string text, out long bytes)
    {
        bytes = 0;
        (string number, string unit) = Split(text.Trim());
        if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            return false;
        }

        long? multiplier = unit.ToUpperInvariant() switch
        {
            "" or "B" => 1L,
            "KB" or "KIB" => 1L << 10,
            "MB" or "MIB" => 1L << 20,
            "GB" or "GIB" => 1L << 30,
            _ => null,
        };
        if (multiplier is null || value > long.MaxValue / multiplier.Value)
        {
            return false;
        }

        bytes = value * multiplier.Value;
        return true;
    }

    private static (string Number, string Unit) Split(string text)
    {
        int digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits]))
        {
            digits++;
        }

        return (text[..digits], text[digits..].Trim());
    }
}
