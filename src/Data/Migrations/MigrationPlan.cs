namespace Jobsd.Data.Migrations;

/// <summary>Why a script is in a plan.</summary>
public enum PlanReason
{
    New,
    Changed,
    EveryTime,
}

public sealed record PlannedScript(MigrationScript Script, PlanReason Reason)
{
    public override string ToString() => $"{Script.Path} ({Reason switch
    {
        PlanReason.New => "new",
        PlanReason.Changed => "changed",
        _ => "every time",
    }})";
}

/// <summary>What a migration would run, and the one-time scripts that changed after they ran (which stop it).</summary>
public sealed record MigrationPlan(IReadOnlyList<PlannedScript> Scripts, IReadOnlyList<MigrationScript> ChangedOneTimeScripts)
{
    /// <summary>One-time and anytime work still to do; every-time scripts do not make a schema out of date.</summary>
    public IReadOnlyList<PlannedScript> Pending => Scripts.Where(s => s.Reason != PlanReason.EveryTime).ToList();

    public bool IsCurrent => Pending.Count == 0 && ChangedOneTimeScripts.Count == 0;
}
