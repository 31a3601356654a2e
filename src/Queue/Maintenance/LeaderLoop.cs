using Jobsd.Queue.Health;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue.Maintenance;

/// <summary>
/// A maintenance service that runs a pass every <see cref="Interval"/> while this node leads.
/// One failed pass never ends the loop, whatever it threw (a loop that died would vanish from
/// loop health and leave its work undone); the log gets louder the longer passes keep failing.
/// Passes are bounded (batches with a statement timeout), so a huge backlog is worked off
/// over several passes instead of one long lock-holding statement.
/// </summary>
public abstract partial class LeaderLoop(LeaderElector elector, LoopHealth health, TimeProvider clock, ILogger logger)
{
    protected TimeProvider Clock { get; } = clock;

    protected abstract string Name { get; }
    protected abstract TimeSpan Interval { get; }

    /// <summary>One pass; returns how many rows it handled (for the log).</summary>
    protected abstract Task<int> RunPassAsync(CancellationToken ct);

    /// <summary>
    /// Repeats <paramref name="batch"/> while it handles a full batch, so a backlog is worked off
    /// in bounded statements; a short random pause between batches leaves room for the hot path.
    /// </summary>
    protected static async Task<int> InBatchesAsync(int batchSize, Func<Task<int>> batch, bool pause, CancellationToken ct)
    {
        var total = 0;
        int handled;
        do
        {
            handled = await batch();
            total += handled;
            if (pause && handled == batchSize) await Task.Delay(TimeSpan.FromMilliseconds(50 + Random.Shared.Next(100)), ct);
        }
        while (handled == batchSize);
        return total;
    }

    /// <summary>Run a pass now, outside the timer (tests, operators).</summary>
    public Task<int> RunOnceAsync(CancellationToken ct) => RunPassAsync(ct);

    public async Task RunAsync(CancellationToken ct)
    {
        health.Register(Name, Interval);
        var failures = 0;
        try
        {
            using var timer = new PeriodicTimer(Interval, Clock);
            do
            {
                if (!elector.IsLeader)
                {
                    health.Passed(Name);
                    continue;
                }
                try
                {
                    var handled = await RunPassAsync(ct);
                    if (handled > 0) PassHandled(logger, Name, handled);
                    failures = 0;
                    health.Passed(Name);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    failures++;
                    health.Failed(Name, e.Message);
                    if (failures < 5) PassFailed(logger, Name, failures, e.Message);
                    else PassKeepsFailing(logger, Name, failures, e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            health.Unregister(Name);
        }
    }

    [LoggerMessage(EventId = 5601, Level = LogLevel.Debug, Message = "{Loop}: {Handled} rows")]
    private static partial void PassHandled(ILogger logger, string loop, int handled);

    [LoggerMessage(EventId = 5602, Level = LogLevel.Warning, Message = "{Loop} pass failed ({Failures} in a row): {Error}")]
    private static partial void PassFailed(ILogger logger, string loop, int failures, string error);

    [LoggerMessage(EventId = 5603, Level = LogLevel.Error, Message = "{Loop} keeps failing ({Failures} in a row): {Error}")]
    private static partial void PassKeepsFailing(ILogger logger, string loop, int failures, string error);
}
