namespace Jobsd.Queue;

/// <summary>Per-kind settings, given to <c>AddJob</c>.</summary>
public sealed class JobKindOptions
{
    /// <summary>The queue jobs of this kind go to unless the enqueuer says otherwise. Default: "default".</summary>
    public string Queue { get; set; } = "default";

    /// <summary>How long one attempt may run before its token is cancelled and it fails. Default: 30 minutes.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Attempts before the job ends failed. Default: 10 (as Hangfire).</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>Delay before retry N (1-based, jitter added); null uses <see cref="RetrySchedule.Default"/>.</summary>
    public Func<int, TimeSpan>? RetryDelay { get; set; }
}
