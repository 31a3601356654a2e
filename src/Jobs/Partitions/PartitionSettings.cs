namespace Jobsd.Jobs.Partitions;

public enum PartitionInterval
{
    Monthly,
    Daily,
}

public enum RetentionAction
{
    /// <summary>Partitions past retention are detached and kept as plain tables (the safer default).</summary>
    Detach,

    /// <summary>Detached, then dropped.</summary>
    Drop,
}

/// <summary>One range-partitioned table the partition keeper looks after (<c>Partitions:Tables:{table}</c>).</summary>
public sealed class PartitionTableSettings
{
    /// <summary>The range partition key. Default: created_at.</summary>
    public string Column { get; set; } = "created_at";

    /// <summary>monthly | daily. Default: monthly.</summary>
    public PartitionInterval Interval { get; set; } = PartitionInterval.Monthly;

    /// <summary>Intervals made ahead of the current one. Default: 4 (pg_partman's premake).</summary>
    public int Premake { get; set; } = 4;

    /// <summary>Intervals kept behind the current one. Default: 1.</summary>
    public int Behind { get; set; } = 1;

    /// <summary>Partitions entirely older than this are retired. Default: none (kept for ever).</summary>
    public TimeSpan? Retention { get; set; }

    /// <summary>What retiring means. Default: detach.</summary>
    public RetentionAction RetentionAction { get; set; } = RetentionAction.Detach;
}

/// <summary>The partition keeper's settings (section <c>Partitions</c>).</summary>
public sealed class PartitionSettings
{
    public const string Section = "Partitions";

    /// <summary>Tables by (optionally schema-qualified) name. Default: audit_events, monthly on created_at.</summary>
    public Dictionary<string, PartitionTableSettings> Tables { get; set; } = new() { ["audit_events"] = new PartitionTableSettings() };

    /// <summary>When the keeper runs (UTC), besides once at start. Default: daily at 03:00.</summary>
    public string Cron { get; set; } = "0 3 * * *";

    /// <summary>Also run once when a node starts (so a fresh install has its partitions at once). Default: true.</summary>
    public bool RunAtStart { get; set; } = true;

    /// <summary>How long the keeper waits for a table lock before giving up until the next run. Default: 5 s.</summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public IEnumerable<string> Validate()
    {
        foreach (var (table, t) in Tables)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(table, @"^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$"))
                yield return $"Partitions:Tables:{table}: a table name is lower-case letters, digits and '_' (optionally schema.table)";
            if (!System.Text.RegularExpressions.Regex.IsMatch(t.Column, "^[a-z_][a-z0-9_]*$")) yield return $"Partitions:Tables:{table}:Column: '{t.Column}' is not a column name";
            if (t.Premake is < 0 or > 366) yield return $"Partitions:Tables:{table}:Premake: must be between 0 and 366";
            if (t.Behind is < 0 or > 366) yield return $"Partitions:Tables:{table}:Behind: must be between 0 and 366";
            if (t.Retention is { } r && r <= TimeSpan.Zero) yield return $"Partitions:Tables:{table}:Retention: must be positive";
        }
        if (LockTimeout <= TimeSpan.Zero) yield return "Partitions:LockTimeout: must be positive";
    }
}
