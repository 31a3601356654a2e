using System.Text.RegularExpressions;

namespace Jobsd.Queue.Recurring;

/// <summary>What to do with fire times that passed while no leader could enqueue them.</summary>
public enum MisfirePolicy
{
    /// <summary>One run now for everything missed, then the schedule continues.</summary>
    Once,

    /// <summary>One run per missed fire time, the most recent <see cref="RecurringDefinition.MaxCatchUp"/> of them.</summary>
    All,

    /// <summary>Nothing for missed fires; the next future fire runs.</summary>
    Skip,
}

/// <summary>Whether a fire may start a run while the previous run is not finished.</summary>
public enum OverlapPolicy
{
    Allow,

    /// <summary>No new run while the previous one is scheduled, enqueued or processing; the skipped fire is recorded.</summary>
    Skip,
}

/// <summary>Where a recurring job was defined; synchronisation only manages code and configuration.</summary>
public enum RecurringSource
{
    Code,
    Config,
    Api,
}

/// <summary>One recurring job as defined in code, configuration or through the API.</summary>
public sealed partial record RecurringDefinition(
    string Name,
    string Cron,
    string Kind,
    string ArgsJson,
    RecurringSource Source,
    string TimeZone = "UTC",
    string? Queue = null,
    int Priority = 0,
    int? MaxAttempts = null,
    MisfirePolicy Misfire = MisfirePolicy.Once,
    OverlapPolicy Overlap = OverlapPolicy.Allow,
    int MaxCatchUp = 100,
    bool Enabled = true)
{
    /// <summary>
    /// Every problem with this definition, each naming the job and what is wrong; empty when
    /// usable. With a <paramref name="registry"/>, the kind must be one this node runs and the
    /// args must bind to its type (<see cref="ArgsJson"/> is then replaced by the canonical form
    /// through <paramref name="canonicalArgs"/>).
    /// </summary>
    public IReadOnlyList<string> Validate(JobRegistry? registry, bool argsFromConfiguration, out string canonicalArgs)
    {
        var problems = new List<string>();
        canonicalArgs = ArgsJson;
        void Problem(string text) => problems.Add($"recurring job '{Name}': {text}");
        if (!NamePattern().IsMatch(Name)) Problem("a name is letters, digits, '_', '.', ':', '-' (at most 128, starting with a letter or digit)");
        if (!CronSchedule.TryParse(Cron, out _, out var cronError)) Problem(cronError!);
        try
        {
            TimeZones.Find(TimeZone);
        }
        catch (CronFormatException e)
        {
            Problem(e.Message);
        }
        if (Queue is not null && !QueuePattern().IsMatch(Queue)) Problem($"'{Queue}' is not a queue name (lower-case letters, digits, '_', '.', '-')");
        if (Priority is < 0 or > short.MaxValue) Problem($"priority must be between 0 and 32767, got {Priority}");
        if (MaxAttempts is < 1) Problem($"max attempts must be at least 1, got {MaxAttempts}");
        if (MaxCatchUp is < 1 or > 10_000) Problem($"max catch-up must be between 1 and 10000, got {MaxCatchUp}");
        if (string.IsNullOrWhiteSpace(Kind))
        {
            Problem("kind is empty");
        }
        else if (registry is not null)
        {
            if (!registry.TryGet(Kind, out var registration))
            {
                Problem($"unknown kind '{Kind}'; this node runs: {string.Join(", ", registry.All.Select(k => k.Kind).Order())}");
            }
            else
            {
                try
                {
                    canonicalArgs = JobArgsJson.Canonicalize(ArgsJson, registration.ArgsType, Kind, argsFromConfiguration);
                }
                catch (JobArgsException e)
                {
                    Problem(e.Message);
                }
            }
        }
        return problems;
    }

    internal static string ToDb(MisfirePolicy p) => p.ToString().ToLowerInvariant();
    internal static string ToDb(OverlapPolicy p) => p.ToString().ToLowerInvariant();
    internal static string ToDb(RecurringSource s) => s.ToString().ToLowerInvariant();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9_.-]{0,63}$")]
    private static partial Regex QueuePattern();
}
