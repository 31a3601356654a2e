namespace Jobsd.Data;

/// <summary>How jobsd reaches and prepares its database (configuration section <c>Database</c>).</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>
    /// The connection string, read from <c>ConnectionStrings:Postgres</c> (not from this section).
    /// No default: jobsd refuses to start without one.
    /// </summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>
    /// Overrides the connection string's password, so the string can live in a config file and
    /// the password in a systemd credential (<c>Database__Password</c>). Default: none.
    /// </summary>
    public string? Password { get; set; }

    /// <summary>Run migrations when <c>jobsd run</c> starts. Default: true.</summary>
    public bool MigrateOnStart { get; set; } = true;

    /// <summary>
    /// A <c>db/</c>-shaped folder to read migration scripts from instead of the embedded ones
    /// (also <c>--scripts DIR</c>). Default: none (embedded scripts).
    /// </summary>
    public string? ScriptsPath { get; set; }

    /// <summary>
    /// Longest wait between attempts to reach the database while starting. Backoff doubles
    /// from one second up to this. Default: 30 seconds.
    /// </summary>
    public TimeSpan MaxStartupRetryDelay { get; set; } = TimeSpan.FromSeconds(30);
}
