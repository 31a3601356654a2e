using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue;

/// <summary>
/// Runs one claimed job, reading as its lifecycle: resolve the kind → bind the args → open a
/// DI scope → run with a timeout and a cancellation token → classify the outcome → hand it to
/// the completer. Never throws: every way an attempt can end becomes a <see cref="JobOutcome"/>.
/// </summary>
public sealed partial class JobExecutor(
    JobRegistry registry,
    IServiceScopeFactory scopes,
    BatchCompleter completer,
    NodeIdentity node,
    TimeProvider clock,
    JobsdMetrics metrics,
    ILogger<JobExecutor> logger)
{
    private readonly ConcurrentDictionary<long, Running> _running = new();

    private sealed class Running(CancellationTokenSource cts)
    {
        public CancellationTokenSource Cts { get; } = cts;
        public volatile bool CancelRequested;
        public volatile string? CancelReason;
    }

    public int RunningCount => _running.Count;

    /// <summary>
    /// An operator's cancel: the job's token fires and the job ends deleted. The reason, when
    /// known here, is kept only if the operator's own reason was not recorded with the request.
    /// </summary>
    public bool Cancel(long jobId, string? reason)
    {
        if (!_running.TryGetValue(jobId, out var running)) return false;
        running.CancelReason = reason;
        running.CancelRequested = true;
        running.Cts.Cancel();
        return true;
    }

    public async Task ExecuteAsync(ClaimedJob job, CancellationToken stopping)
    {
        var started = clock.GetTimestamp();
        metrics.Started(job);
        var outcome = await RunAsync(job, stopping);
        if (outcome is not null)
        {
            // Checkpoint: the outcome leaves this process only through the completer; until it
            // is written the job stays processing and a crash now means a rescue and a rerun
            // (at-least-once).
            try
            {
                await completer.SubmitAsync(outcome);
            }
            catch (System.Threading.Channels.ChannelClosedException)
            {
                OutcomeDropped(logger, job.Id, outcome.Kind.ToString());
            }
        }
        metrics.Finished(outcome ?? new JobOutcome(job, OutcomeKind.Succeeded), clock.GetElapsedTime(started));
    }

    private async Task<JobOutcome?> RunAsync(ClaimedJob job, CancellationToken stopping)
    {
        using var scopeLog = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = job.Id, ["Kind"] = job.Kind, ["Attempt"] = job.Attempt });
        if (!registry.TryGet(job.Kind, out var registration))
        {
            return Fail(job, new JobPermanentException(
                $"no handler for kind '{job.Kind}' on node {node.Name}; this node runs: {string.Join(", ", registry.All.Select(k => k.Kind).Order())}"), permanent: true);
        }
        object args;
        try
        {
            args = JobArgsJson.Deserialize(job.Args, registration.ArgsType, job.Kind);
        }
        catch (JobArgsException e)
        {
            return Fail(job, e, permanent: true);
        }

        using var timeout = new CancellationTokenSource(registration.Options.Timeout, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
        var running = new Running(linked);
        _running[job.Id] = running;
        var context = new JobContext(job.Id, job.Kind, job.Queue, job.Attempt, job.MaxAttempts, node.Name,
            (connection, transaction, result, ct) => CompleteWithinAsync(job, connection, transaction, result, ct),
            () => running.CancelRequested);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await registration.Invoke(scope.ServiceProvider, args, context, linked.Token);
            return context.CompletedInTransaction ? null : new JobOutcome(job, OutcomeKind.Succeeded, ResultJson: context.ResultJson);
        }
        catch (OperationCanceledException) when (running.CancelRequested)
        {
            JobCancelled(logger, job.Id);
            return new JobOutcome(job, OutcomeKind.Cancelled, Reason: running.CancelReason ?? "cancelled by operator");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            return Fail(job, new TimeoutException($"timed out after {registration.Options.Timeout}"), permanent: false, registration.Options);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            JobHandedBack(logger, job.Id);
            return new JobOutcome(job, OutcomeKind.HandedBack, Reason: "handed back: node stopping");
        }
        catch (JobSnoozeException e)
        {
            return new JobOutcome(job, OutcomeKind.Snoozed, RunAt: clock.GetUtcNow().UtcDateTime + e.Delay);
        }
        catch (JobPermanentException e)
        {
            return Fail(job, e, permanent: true);
        }
        catch (Exception e)
        {
            return Fail(job, e, permanent: false, registration.Options);
        }
        finally
        {
            _running.TryRemove(job.Id, out _);
        }
    }

    private JobOutcome Fail(ClaimedJob job, Exception error, bool permanent, JobKindOptions? options = null)
    {
        var errorJson = JsonSerializer.Serialize(new
        {
            at = clock.GetUtcNow(),
            attempt = job.Attempt,
            node = node.Name,
            type = error.GetType().FullName,
            message = error.Message,
            stack = error.ToString(),
        });
        if (permanent || job.Attempt >= job.MaxAttempts)
        {
            JobFailed(logger, job.Id, job.Kind, job.Attempt, job.MaxAttempts, error.Message);
            return new JobOutcome(job, OutcomeKind.Failed, ErrorJson: errorJson);
        }
        var delay = (options?.RetryDelay ?? RetrySchedule.Default)(job.Attempt);
        JobRetrying(logger, job.Id, job.Kind, job.Attempt, job.MaxAttempts, delay.TotalSeconds, error.Message);
        return new JobOutcome(job, OutcomeKind.Retry, RunAt: clock.GetUtcNow().UtcDateTime + delay, ErrorJson: errorJson);
    }

    private async Task<bool> CompleteWithinAsync(ClaimedJob job, NpgsqlConnection connection, NpgsqlTransaction transaction, string? result, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(JobQueries.CompleteOne, connection, transaction);
        command.Parameters.AddWithValue("id", job.Id);
        command.Parameters.AddWithValue("attempt", job.Attempt);
        command.Parameters.AddWithValue("node", node.Name);
        command.Parameters.Add(new NpgsqlParameter<string?>("result", result) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return (long)(await command.ExecuteScalarAsync(ct))! == 1;
    }

    [LoggerMessage(EventId = 5205, Level = LogLevel.Warning, Message = "Job {JobId} ended ({Outcome}) after the engine stopped recording outcomes; it stays processing and will be rescued")]
    private static partial void OutcomeDropped(ILogger logger, long jobId, string outcome);

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "Job {JobId} ({Kind}) attempt {Attempt}/{MaxAttempts} failed, retrying in {DelaySeconds:0} s: {Error}")]
    private static partial void JobRetrying(ILogger logger, long jobId, string kind, int attempt, int maxAttempts, double delaySeconds, string error);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Error, Message = "Job {JobId} ({Kind}) failed for good at attempt {Attempt}/{MaxAttempts}: {Error}")]
    private static partial void JobFailed(ILogger logger, long jobId, string kind, int attempt, int maxAttempts, string error);

    [LoggerMessage(EventId = 5203, Level = LogLevel.Information, Message = "Job {JobId} cancelled by an operator")]
    private static partial void JobCancelled(ILogger logger, long jobId);

    [LoggerMessage(EventId = 5204, Level = LogLevel.Information, Message = "Job {JobId} interrupted by shutdown; handing it back")]
    private static partial void JobHandedBack(ILogger logger, long jobId);
}
