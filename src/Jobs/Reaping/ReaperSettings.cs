namespace Jobsd.Jobs.Reaping;

/// <summary>The reaper (section <c>Reaper</c>): what it retires or deletes, and how hard it may work per run.</summary>
public sealed class ReaperSettings
{
    public const string Section = "Reaper";

    /// <summary>When the reaper runs (UTC). Default: every minute.</summary>
    public string Cron { get; set; } = "* * * * *";

    /// <summary>Rows per statement. Default: 1,000.</summary>
    public int BatchSize { get; set; } = 1_000;

    /// <summary>A run stops starting new batches after this long; the rest waits for the next run. Default: 30 s.</summary>
    public TimeSpan TimeBudget { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Environments building, deploying or ready whose heartbeat (or last update) is older are reaped. Default: 15 min.</summary>
    public TimeSpan EnvironmentHeartbeatTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Run for each reaped environment, as argv (no shell); {environment_id}, {vm_id}, {subdomain_hash} are replaced. Default: none (nothing to run).</summary>
    public string[] TerminateCommand { get; set; } = [];

    /// <summary>How long a terminate command may run. Default: 5 min.</summary>
    public TimeSpan TerminateTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Connected agents silent this long become disconnected. Default: 2 min.</summary>
    public TimeSpan AgentTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Refresh tokens expired or revoked longer ago than this are deleted. Default: 1 day.</summary>
    public TimeSpan RefreshTokenGrace { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Build log lines older than this are deleted. Default: 30 days.</summary>
    public TimeSpan BuildLogRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Switches per category. Defaults: all on.</summary>
    public bool ReapEnvironments { get; set; } = true;
    public bool ReapAgents { get; set; } = true;
    public bool ReapRefreshTokens { get; set; } = true;
    public bool ReapBuildLogs { get; set; } = true;
    public bool ReapAbandonedBuilds { get; set; } = true;

    /// <summary>A build running longer than Builds:Timeout plus this is abandoned (its runner's own timeout should have ended it). Default: 10 min.</summary>
    public TimeSpan AbandonedBuildGrace { get; set; } = TimeSpan.FromMinutes(10);

    public IEnumerable<string> Validate()
    {
        if (BatchSize is < 1 or > 100_000) yield return "Reaper:BatchSize: must be between 1 and 100000";
        foreach (var (key, value) in new (string, TimeSpan)[]
                 {
                     ("TimeBudget", TimeBudget), ("EnvironmentHeartbeatTimeout", EnvironmentHeartbeatTimeout), ("TerminateTimeout", TerminateTimeout),
                     ("AgentTimeout", AgentTimeout), ("RefreshTokenGrace", RefreshTokenGrace), ("BuildLogRetention", BuildLogRetention), ("AbandonedBuildGrace", AbandonedBuildGrace),
                 })
        {
            if (value <= TimeSpan.Zero) yield return $"Reaper:{key}: must be positive";
        }
        if (TerminateCommand.Length > 0 && string.IsNullOrWhiteSpace(TerminateCommand[0])) yield return "Reaper:TerminateCommand: the first element is the program to run";
    }
}
