using System.Text.RegularExpressions;

namespace Jobsd.Jobs.Tokens;

/// <summary>
/// Keys for secrets at rest (section <c>Encryption</c>): <c>Keys:{id}</c> is a base64 32-byte
/// key, best a systemd credential (<c>Encryption__Keys__{id}</c>); <c>CurrentKeyId</c> names
/// the one new values are encrypted with, the others only decrypt. Never in the database.
/// </summary>
public sealed partial class EncryptionSettings
{
    public const string Section = "Encryption";

    /// <summary>Key id → base64 of 32 random bytes (<c>jobsd keys generate</c>). Default: none.</summary>
    public Dictionary<string, string> Keys { get; set; } = [];

    /// <summary>Which key encrypts. Default: none (required once a key is configured).</summary>
    public string? CurrentKeyId { get; set; }

    public IEnumerable<string> Validate()
    {
        foreach (var (id, value) in Keys)
        {
            if (!KeyId().IsMatch(id)) yield return $"Encryption:Keys:{id}: a key id is letters, digits, '_' or '-' (at most 32)";
            if (Decode(value) is null) yield return $"Encryption:Keys:{id}: not the base64 of 32 bytes (make one with 'jobsd keys generate')";
        }
        if (Keys.Count > 0 && CurrentKeyId is null) yield return "Encryption:CurrentKeyId: required when keys are configured: name the key that encrypts";
        if (CurrentKeyId is { } current && !Keys.ContainsKey(current)) yield return $"Encryption:CurrentKeyId: '{current}' is not one of Encryption:Keys ({string.Join(", ", Keys.Keys)})";
    }

    internal static byte[]? Decode(string value)
    {
        try
        {
            var bytes = Convert.FromBase64String(value.Trim());
            return bytes.Length == 32 ? bytes : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,32}$")]
    internal static partial Regex KeyId();
}
