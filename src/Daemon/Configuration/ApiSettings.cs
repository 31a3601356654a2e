using System.Text.RegularExpressions;

namespace Jobsd.Daemon.Configuration;

/// <summary>The HTTP API for other systems (section <c>Api</c>).</summary>
public sealed partial class ApiSettings
{
    public const string Section = "Api";

    /// <summary>
    /// Bearer keys by name (<c>Api:Keys:{name}:Hash</c> = hex SHA-256 of the key; only the hash is
    /// configured, <c>jobsd api-key create NAME</c> makes both). Default: none — every API call is 401.
    /// </summary>
    public Dictionary<string, ApiKeySettings> Keys { get; set; } = [];

    /// <summary>Per-key token bucket. Defaults: 50 requests a second, bursts of 100.</summary>
    public RateLimitSettings RateLimit { get; set; } = new();

    public IEnumerable<string> Validate()
    {
        foreach (var (name, key) in Keys)
        {
            if (key.Hash is null || !Sha256Hex().IsMatch(key.Hash))
            {
                yield return $"Api:Keys:{name}:Hash: must be the 64 hex digits of the key's SHA-256 (jobsd api-key create {name} prints it)";
            }
            if (key.Kinds is { } kinds && kinds.Any(string.IsNullOrWhiteSpace)) yield return $"Api:Keys:{name}:Kinds: an empty kind name";
        }
        if (RateLimit.RequestsPerSecond is < 1 or > 100_000) yield return "Api:RateLimit:RequestsPerSecond: must be between 1 and 100000";
        if (RateLimit.Burst < 1 || RateLimit.Burst > 1_000_000) yield return "Api:RateLimit:Burst: must be between 1 and 1000000";
    }

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex Sha256Hex();
}

public sealed class ApiKeySettings
{
    /// <summary>Hex SHA-256 of the key.</summary>
    public string? Hash { get; set; }

    /// <summary>Kinds this key may enqueue. Default: any.</summary>
    public string[]? Kinds { get; set; }
}

public sealed class RateLimitSettings
{
    public int RequestsPerSecond { get; set; } = 50;
    public int Burst { get; set; } = 100;
}
