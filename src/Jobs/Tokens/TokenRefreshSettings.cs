namespace Jobsd.Jobs.Tokens;

/// <summary>Token refresh (section <c>TokenRefresh</c>).</summary>
public sealed class TokenRefreshSettings
{
    public const string Section = "TokenRefresh";
    public const string Queue = "tokens";

    /// <summary>When the finder looks for credentials due (UTC). Default: every minute.</summary>
    public string Cron { get; set; } = "* * * * *";

    /// <summary>Refresh when less than this is left — or less than half the token's lifetime, whichever comes first (±10 % per credential). Default: 5 min.</summary>
    public TimeSpan RefreshAhead { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>One token request may take this long. Default: 10 s.</summary>
    public TimeSpan HttpTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Allow http:// token endpoints on loopback (tests, local development). Default: false: https only.</summary>
    public bool AllowHttpLoopback { get; set; }

    /// <summary>First wait after a failed refresh; doubles per consecutive failure up to <see cref="MaxBackoff"/>. Default: 30 s.</summary>
    public TimeSpan Backoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Default: 1 h.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Assumed lifetime when a token response has no expires_in. Default: 1 h.</summary>
    public TimeSpan DefaultLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Credentials re-encrypted per transaction by secrets.reencrypt. Default: 500.</summary>
    public int ReencryptBatchSize { get; set; } = 500;

    public IEnumerable<string> Validate()
    {
        foreach (var (key, value) in new (string, TimeSpan)[]
                 {
                     ("RefreshAhead", RefreshAhead), ("HttpTimeout", HttpTimeout), ("Backoff", Backoff), ("MaxBackoff", MaxBackoff), ("DefaultLifetime", DefaultLifetime),
                 })
        {
            if (value <= TimeSpan.Zero) yield return $"TokenRefresh:{key}: must be positive";
        }
        if (MaxBackoff < Backoff) yield return "TokenRefresh:MaxBackoff: must not be shorter than Backoff";
        if (ReencryptBatchSize is < 1 or > 100_000) yield return "TokenRefresh:ReencryptBatchSize: must be between 1 and 100000";
    }

    /// <summary>Whether jobsd may post credentials to this endpoint: https, or http on loopback when allowed.</summary>
    public string? EndpointProblem(string endpoint)
    {
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
        {
            return $"token endpoint '{endpoint}' is not an absolute http(s) URL";
        }
        if (uri.Scheme == "https") return null;
        if (uri.IsLoopback && AllowHttpLoopback) return null;
        return uri.IsLoopback
            ? $"token endpoint '{endpoint}' is plain http; allowed on loopback only with TokenRefresh:AllowHttpLoopback"
            : $"token endpoint '{endpoint}' must be https: credentials are never sent in clear text";
    }
}
