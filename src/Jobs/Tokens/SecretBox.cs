using System.Security.Cryptography;
using System.Text;

namespace Jobsd.Jobs.Tokens;

/// <summary>A stored secret that cannot be read: wrong or missing key, tampering, or not an envelope. Never carries the value.</summary>
public sealed class SecretUnreadableException(string message) : Exception(message);

/// <summary>
/// AES-256-GCM envelopes for secrets at rest: <c>jobsd:v1:{key id}:{nonce}:{ciphertext}:{tag}</c>
/// (base64), a fresh random 96-bit nonce per value. The associated data binds a value to its row
/// and column (<see cref="Context"/>), so a ciphertext copied to another credential or field
/// fails authentication instead of decrypting there.
/// </summary>
public sealed class SecretBox
{
    public const string Prefix = "jobsd:v1:";
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private readonly Dictionary<string, byte[]> _keys;
    private readonly string? _current;

    public SecretBox(EncryptionSettings settings)
    {
        _keys = settings.Keys.ToDictionary(k => k.Key, k => EncryptionSettings.Decode(k.Value) ?? throw new ArgumentException($"Encryption:Keys:{k.Key} is not a 32-byte key"));
        _current = settings.CurrentKeyId;
    }

    public bool CanEncrypt => _current is not null;
    public string? CurrentKeyId => _current;

    /// <summary>The associated data of a credential's field: <c>oauth_credentials:{id}:{column}</c>.</summary>
    public static byte[] Context(Guid credentialId, string column) => Encoding.UTF8.GetBytes($"oauth_credentials:{credentialId}:{column}");

    public string Encrypt(string plaintext, byte[] context)
    {
        if (_current is null) throw new SecretUnreadableException("no encryption key is configured (Encryption:Keys and Encryption:CurrentKeyId); make one with 'jobsd keys generate'");
        var plain = Encoding.UTF8.GetBytes(plaintext);
        var nonce = RandomNumberGenerator.GetBytes(NonceBytes);
        var cipher = new byte[plain.Length];
        var tag = new byte[TagBytes];
        using (var aes = new AesGcm(_keys[_current], TagBytes)) aes.Encrypt(nonce, plain, cipher, tag, context);
        CryptographicOperations.ZeroMemory(plain);
        return $"{Prefix}{_current}:{Convert.ToBase64String(nonce)}:{Convert.ToBase64String(cipher)}:{Convert.ToBase64String(tag)}";
    }

    /// <exception cref="SecretUnreadableException">Says why (unknown key id, failed authentication, not an envelope) — never what.</exception>
    public string Decrypt(string envelope, byte[] context)
    {
        if (!envelope.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw new SecretUnreadableException(envelope.StartsWith("legacy:", StringComparison.Ordinal)
                ? "stored in the earlier form without a key id; store the credential again"
                : "not a jobsd:v1 envelope");
        }
        var parts = envelope[Prefix.Length..].Split(':');
        if (parts.Length != 4) throw new SecretUnreadableException("a malformed jobsd:v1 envelope");
        if (!_keys.TryGetValue(parts[0], out var key)) throw new SecretUnreadableException($"encrypted with key '{parts[0]}', which is not configured (Encryption:Keys)");
        byte[] nonce, cipher, tag;
        try
        {
            (nonce, cipher, tag) = (Convert.FromBase64String(parts[1]), Convert.FromBase64String(parts[2]), Convert.FromBase64String(parts[3]));
        }
        catch (FormatException)
        {
            throw new SecretUnreadableException("a malformed jobsd:v1 envelope (bad base64)");
        }
        if (nonce.Length != NonceBytes || tag.Length != TagBytes) throw new SecretUnreadableException("a malformed jobsd:v1 envelope (nonce or tag size)");
        var plain = new byte[cipher.Length];
        try
        {
            using var aes = new AesGcm(key, TagBytes);
            aes.Decrypt(nonce, cipher, tag, plain, context);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new SecretUnreadableException($"failed authentication with key '{parts[0]}' (a wrong key, or the value was altered or copied from elsewhere)");
        }
        return Encoding.UTF8.GetString(plain);
    }

    /// <summary>Whether the envelope is under the current key (re-encryption skips it).</summary>
    public bool IsCurrent(string? envelope) => envelope is null || (_current is not null && envelope.StartsWith($"{Prefix}{_current}:", StringComparison.Ordinal));

    public static string GenerateKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
}
