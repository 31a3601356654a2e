namespace Jobsd.Daemon.Dashboard;

public enum DashboardAccess
{
    /// <summary>Only requests from loopback addresses (after trusted proxies' forwarded headers).</summary>
    Local,

    /// <summary>HTTP basic authentication against <see cref="DashboardSettings.Username"/> and a PBKDF2 hash.</summary>
    Basic,

    /// <summary>Anyone who can reach the port. Logged as a warning at start.</summary>
    Open,
}

/// <summary>The operator dashboard (section <c>Dashboard</c>).</summary>
public sealed class DashboardSettings
{
    public const string Section = "Dashboard";

    /// <summary>Where the dashboard is served. Default: "/".</summary>
    public string Path { get; set; } = "/";

    /// <summary>local | basic | open. Default: local.</summary>
    public DashboardAccess Access { get; set; } = DashboardAccess.Local;

    /// <summary>Hide actions; POSTs answer 403. Default: false.</summary>
    public bool ReadOnly { get; set; }

    /// <summary>For basic access. Default: none.</summary>
    public string? Username { get; set; }

    /// <summary>For basic access: <c>jobsd dashboard-password</c> prints one (pbkdf2-sha256$iterations$salt$hash). Default: none.</summary>
    public string? PasswordHash { get; set; }

    /// <summary>Normalised path: "" for the root, else "/x" without a trailing slash.</summary>
    public string Prefix => Path.Trim().TrimEnd('/');

    public IEnumerable<string> Validate()
    {
        if (!Path.Trim().StartsWith('/')) yield return $"Dashboard:Path: '{Path}' must start with '/'";
        if (Prefix is "/api" or "/healthz" or "/readyz" or "/metrics") yield return $"Dashboard:Path: '{Path}' is taken by another endpoint";
        if (Access == DashboardAccess.Basic)
        {
            if (string.IsNullOrWhiteSpace(Username)) yield return "Dashboard:Username: required when Dashboard:Access is basic";
            if (PasswordHash is null || !DashboardPassword.IsWellFormed(PasswordHash))
                yield return "Dashboard:PasswordHash: required when Dashboard:Access is basic; make one with `jobsd dashboard-password` (format pbkdf2-sha256$iterations$salt$hash)";
        }
    }
}
