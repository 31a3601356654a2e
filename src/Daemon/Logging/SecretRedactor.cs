using Jobsd.Daemon.Configuration;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Jobsd.Daemon.Logging;

/// <summary>
/// The last line of defence for secrets: every configured secret value (connection string
/// passwords, keys named *Password, *Secret, *Token, *ApiKey, *EncryptionKey, every
/// Encryption:Keys value) is replaced by
/// <c>***</c> in every log line, whatever code wrote it.
/// </summary>
public sealed class SecretRedactor
{
    private const int MinimumSecretLength = 4;
    private readonly string[] _secrets;

    public SecretRedactor(IEnumerable<string> secrets)
    {
        // Longest first, so a secret containing another is replaced whole.
        _secrets = secrets.Where(s => s.Length >= MinimumSecretLength).Distinct().OrderByDescending(s => s.Length).ToArray();
    }

    public static SecretRedactor From(IConfiguration configuration)
    {
        var secrets = new List<string>();
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            if (string.IsNullOrEmpty(value)) continue;
            var name = key[(key.LastIndexOf(':') + 1)..];
            if (key.StartsWith("ConnectionStrings:", StringComparison.OrdinalIgnoreCase))
            {
                try
                {
                    if (new NpgsqlConnectionStringBuilder(value).Password is { Length: > 0 } password) secrets.Add(password);
                }
                catch (ArgumentException)
                {
                    // An unparsable string is reported by validation; the whole value stays secret.
                    secrets.Add(value);
                }
            }
            else if (SettingsBinder.IsSecret(name) || SettingsBinder.IsSecret(ParentName(key))
                     || key.StartsWith("Encryption:Keys:", StringComparison.OrdinalIgnoreCase))
            {
                secrets.Add(value);
            }
        }
        return new SecretRedactor(secrets);
    }

    public bool IsEmpty => _secrets.Length == 0;

    public string Redact(string text)
    {
        foreach (var secret in _secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal)) text = text.Replace(secret, "***", StringComparison.Ordinal);
        }
        return text;
    }

    // Lists of secrets (Api:ApiKeys:0) are secrets by their parent's name.
    private static string ParentName(string key)
    {
        var parts = key.Split(':');
        return parts.Length >= 2 ? parts[^2] : "";
    }
}
