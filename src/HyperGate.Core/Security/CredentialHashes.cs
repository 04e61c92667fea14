using System.Security.Cryptography;
using System.Text;

namespace HyperGate.Security;

/// <summary>
/// How credentials are stored in the config: API keys as <c>sha256:HEX</c> (a key is long and random, so a
/// fast hash is enough), passwords as PBKDF2-SHA256 with a salt and many iterations (a password is guessable,
/// so its hash must be slow). Both come from the platform's cryptography.
/// </summary>
public static class CredentialHashes
{
    public const string KeyPrefix = "sha256:";
    private const string PasswordPrefix = "pbkdf2-sha256";
    private const int DefaultIterations = 210_000;

    /// <summary><c>sha256:</c> and the lowercase hex SHA-256 of the key.</summary>
    public static string HashKey(string key) => KeyPrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The 32 bytes behind a <c>sha256:HEX</c> string, or null when it is not one.</summary>
    public static byte[]? ParseKeyHash(string text)
    {
        if (!text.StartsWith(KeyPrefix, StringComparison.Ordinal) || text.Length != KeyPrefix.Length + 64)
        {
            return null;
        }

        string hex = text[KeyPrefix.Length..];
        return hex.All(char.IsAsciiHexDigitLower) || hex.All(char.IsAsciiDigit) ? Convert.FromHexString(hex) : null;
    }

    /// <summary><c>pbkdf2-sha256$ITERATIONS$SALT$HASH</c> (salt and hash in base64).</summary>
    public static string HashPassword(string password, int iterations = DefaultIterations)
    {
        byte[] salt = RandomNumberGenerator.GetBytes(16);
        byte[] hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, 32);
        return $"{PasswordPrefix}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    public static bool IsPasswordHash(string text) => TryParsePassword(text, out _, out _, out _);

    /// <summary>Checks a password against its stored hash in constant time (for a given hash).</summary>
    public static bool VerifyPassword(string stored, ReadOnlySpan<byte> password)
    {
        if (!TryParsePassword(stored, out int iterations, out byte[]? salt, out byte[]? expected))
        {
            return false;
        }

        byte[] actual = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static bool TryParsePassword(string text, out int iterations, out byte[] salt, out byte[] hash)
    {
        iterations = 0;
        salt = hash = [];
        string[] parts = text.Split('$');
        try
        {
            if (parts.Length != 4 || parts[0] != PasswordPrefix || !int.TryParse(parts[1], out iterations) || iterations < 10_000)
            {
                return false;
            }

            salt = Convert.FromBase64String(parts[2]);
            hash = Convert.FromBase64String(parts[3]);
            return salt.Length >= 8 && hash.Length >= 16;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
