namespace Jobsd.Queue;

/// <summary>Backoff between attempts.</summary>
public static class RetrySchedule
{
    /// <summary>
    /// Hangfire's curve, so operators' expectations carry over: attempt^4 + 15 seconds plus
    /// up to 30·attempt seconds of jitter (1 → ~16-45 s, 3 → ~96-186 s, 9 → ~1.8 h). Jitter
    /// spreads a burst of failures so they do not all retry in the same second.
    /// </summary>
    public static TimeSpan Default(int attempt) =>
        TimeSpan.FromSeconds(Math.Pow(attempt, 4) + 15 + Random.Shared.NextDouble() * 30 * attempt);
}
