namespace Jobsd.Queue;

/// <summary>
/// Args of the built-in <c>noop</c> kind: for the benchmark, and for operators who want to
/// test a deployment end to end. Waits <see cref="SleepMs"/> (honouring cancellation) and
/// throws on its first <see cref="FailAttempts"/> attempts.
/// </summary>
public sealed record NoopArgs(int SleepMs = 0, int FailAttempts = 0) : IJobArgs
{
    public static string Kind => "noop";
}

public sealed class NoopJob : IJob<NoopArgs>
{
    public async Task ExecuteAsync(NoopArgs args, JobContext context, CancellationToken ct)
    {
        if (args.SleepMs < 0) throw new JobPermanentException("sleep_ms must not be negative");
        if (args.SleepMs > 0) await Task.Delay(args.SleepMs, ct);
        if (context.Attempt <= args.FailAttempts)
        {
            throw new InvalidOperationException($"noop failing on purpose: attempt {context.Attempt} of the first {args.FailAttempts}");
        }
    }
}
