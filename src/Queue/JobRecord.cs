namespace Jobsd.Queue;

/// <summary>A claimed job as a worker sees it.</summary>
public sealed record ClaimedJob(long Id, string Queue, string Kind, string Args, int Attempt, int MaxAttempts, DateTime ScheduledAt, DateTime StartedAt);

/// <summary>The closed set of ways an attempt can end.</summary>
public enum OutcomeKind
{
    Succeeded,
    /// <summary>Failed with attempts left: scheduled again after a backoff.</summary>
    Retry,
    /// <summary>Failed for good: attempts exhausted, permanent error, bad args, unknown kind.</summary>
    Failed,
    /// <summary>Asked to run later; the attempt is not counted.</summary>
    Snoozed,
    /// <summary>Cancelled by an operator: ends deleted with the reason.</summary>
    Cancelled,
    /// <summary>Interrupted by this node's stop: back to enqueued, attempt not counted.</summary>
    HandedBack,
}

/// <summary>What the executor decided about one attempt; the completer writes it, fenced on (id, attempt, node).</summary>
public sealed record JobOutcome(ClaimedJob Job, OutcomeKind Kind, DateTime? RunAt = null, string? ErrorJson = null, string? Reason = null, string? ResultJson = null);
