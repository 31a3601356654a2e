namespace Jobsd.Queue;

/// <summary>The engine's settings (configuration section <c>Queue</c>). Each default says why.</summary>
public sealed class QueueOptions
{
    public const string Section = "Queue";

    /// <summary>
    /// Workers per queue (<c>Queue:Queues:{name}:Workers</c>). Default: "default" with 10 workers and
    /// "builds" with 2 (a build is a heavy process); a kind's queue missing here gets <see cref="DefaultWorkers"/>.
    /// </summary>
    public Dictionary<string, QueueSettings> Queues { get; set; } = new() { ["default"] = new QueueSettings(), ["builds"] = new QueueSettings { Workers = 2 } };

    /// <summary>Workers for a queue that kinds use but <see cref="Queues"/> does not list. Default: 10.</summary>
    public int DefaultWorkers { get; set; } = 10;

    /// <summary>Fallback fetch interval when no NOTIFY arrives (NOTIFY is the hint, polling the guarantee). Default: 1 s.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Shortest pause between two claims of a busy queue, so slots freed meanwhile are filled by
    /// one claim rather than one claim each. An idle queue claims at once. Default: 2 ms.
    /// </summary>
    public TimeSpan FetchCooldown { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>LISTEN for wake-ups and cancels. Off for a transaction-pooling PgBouncer, where LISTEN cannot work. Default: true.</summary>
    public bool UseNotify { get; set; } = true;

    /// <summary>How long a stop waits for running jobs before cancelling them and handing them back. Default: 30 s (systemd's TimeoutStopSec is 60 s).</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A node whose heartbeat is older than this is dead and its jobs are rescued. Default: 30 s.</summary>
    public TimeSpan NodeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a node renews its heartbeat. Default: 5 s (six chances per node timeout).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Leader lease length; renewed at a third of it. Default: 15 s.</summary>
    public TimeSpan LeaderTtl { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often the leader moves due scheduled jobs to enqueued. Default: 1 s (the delay a scheduled job may wait beyond its time).</summary>
    public TimeSpan SchedulerInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the leader looks for jobs of dead nodes. Default: 10 s.</summary>
    public TimeSpan RescuerInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the leader deletes finished jobs past retention. Default: 1 minute.</summary>
    public TimeSpan PrunerInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Keep succeeded jobs this long. Default: 1 day.</summary>
    public TimeSpan SucceededRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Keep failed jobs this long (they need a human). Default: 7 days.</summary>
    public TimeSpan FailedRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Keep deleted jobs this long. Default: 1 day.</summary>
    public TimeSpan DeletedRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Outcomes recorded per round trip at most. Default: 500.</summary>
    public int CompleterBatchSize { get; set; } = 500;

    /// <summary>Longest an outcome waits to be batched. Default: 20 ms (short: a finished job should look finished).</summary>
    public TimeSpan CompleterFlushInterval { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>How often the leader looks for due recurring jobs. Default: 1 s (an every-second schedule needs no less).</summary>
    public TimeSpan RecurringInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A recurring fire found later than this counts as missed (downtime, a leader change) and
    /// follows the job's misfire policy; a fire found sooner is simply on time. Default: 1 min.
    /// </summary>
    public TimeSpan MisfireThreshold { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Per-kind overrides of what the code registered (<c>Queue:Kinds:{kind}:{Queue,Timeout,MaxAttempts,RetryDelays}</c>),
    /// so operators can tune a kind without a release. Default: none.
    /// </summary>
    public Dictionary<string, KindSettings> Kinds { get; set; } = [];

    public IEnumerable<string> Validate()
    {
        if (Queues.Count == 0) yield return "Queue:Queues: at least one queue is needed";
        foreach (var (name, q) in Queues)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z0-9][a-z0-9_.-]{0,63}$"))
                yield return $"Queue:Queues:{name}: a queue name is lower-case letters, digits, '_', '.', '-' (at most 64)";
            if (q.Workers is < 1 or > 1000) yield return $"Queue:Queues:{name}:Workers: must be between 1 and 1000, got {q.Workers}";
        }
        if (DefaultWorkers is < 1 or > 1000) yield return $"Queue:DefaultWorkers: must be between 1 and 1000";
        foreach (var (key, value) in new (string, TimeSpan)[]
                 {
                     ("PollInterval", PollInterval), ("FetchCooldown", FetchCooldown), ("ShutdownTimeout", ShutdownTimeout), ("NodeTimeout", NodeTimeout),
                     ("HeartbeatInterval", HeartbeatInterval), ("LeaderTtl", LeaderTtl), ("SchedulerInterval", SchedulerInterval),
                     ("RescuerInterval", RescuerInterval), ("PrunerInterval", PrunerInterval), ("CompleterFlushInterval", CompleterFlushInterval),
                     ("RecurringInterval", RecurringInterval), ("MisfireThreshold", MisfireThreshold),
                 })
        {
            if (value <= TimeSpan.Zero) yield return $"Queue:{key}: must be positive";
        }
        if (HeartbeatInterval * 2 >= NodeTimeout) yield return "Queue:HeartbeatInterval: must be less than half of Queue:NodeTimeout";
        if (CompleterBatchSize < 1) yield return "Queue:CompleterBatchSize: must be at least 1";
        foreach (var (kind, k) in Kinds)
        {
            if (k.Queue is { } q && !System.Text.RegularExpressions.Regex.IsMatch(q, "^[a-z0-9][a-z0-9_.-]{0,63}$"))
                yield return $"Queue:Kinds:{kind}:Queue: '{q}' is not a queue name";
            if (k.Timeout is { } t && t <= TimeSpan.Zero) yield return $"Queue:Kinds:{kind}:Timeout: must be positive";
            if (k.MaxAttempts is < 1) yield return $"Queue:Kinds:{kind}:MaxAttempts: must be at least 1";
            if (k.RetryDelays is { } delays && (delays.Length == 0 || delays.Any(d => d < TimeSpan.Zero)))
                yield return $"Queue:Kinds:{kind}:RetryDelays: give one or more non-negative durations";
        }
    }

    /// <summary>Applies <see cref="Kinds"/> to the registered kinds; returns a problem per configured kind that no handler is registered for.</summary>
    public IReadOnlyList<string> ApplyKindOverrides(JobRegistry registry)
    {
        var problems = new List<string>();
        foreach (var (kind, k) in Kinds)
        {
            if (!registry.TryGet(kind, out var registration))
            {
                problems.Add($"Queue:Kinds:{kind}: no handler is registered for kind '{kind}' (known: {string.Join(", ", registry.All.Select(r => r.Kind).Order())})");
                continue;
            }
            var o = registration.Options;
            if (k.Queue is { } queue) o.Queue = queue;
            if (k.Timeout is { } timeout) o.Timeout = timeout;
            if (k.MaxAttempts is { } attempts) o.MaxAttempts = attempts;
            if (k.RetryDelays is { Length: > 0 } delays) o.RetryDelay = attempt => delays[Math.Min(attempt, delays.Length) - 1];
        }
        return problems;
    }
}

/// <summary>Overrides for one kind; unset values keep what the code registered.</summary>
public sealed class KindSettings
{
    public string? Queue { get; set; }
    public TimeSpan? Timeout { get; set; }
    public int? MaxAttempts { get; set; }

    /// <summary>Delay before retry N is the N-th entry; the last repeats. No jitter: the operator chose the values.</summary>
    public TimeSpan[]? RetryDelays { get; set; }
}

public sealed class QueueSettings
{
    /// <summary>Jobs of this queue one node runs at once. Default: 10.</summary>
    public int Workers { get; set; } = 10;
}
