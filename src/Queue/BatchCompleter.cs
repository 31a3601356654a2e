using System.Threading.Channels;
using Jobsd.Queue.Health;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Jobsd.Queue;

/// <summary>
/// Records outcomes in batches: one round trip for up to <see cref="QueueOptions.CompleterBatchSize"/>
/// jobs, flushed as soon as the queue of outcomes is drained or <see cref="QueueOptions.CompleterFlushInterval"/>
/// passed. A failed flush is retried with backoff — an outcome is never dropped; if this node
/// dies first, its jobs are rescued (at-least-once). The bounded channel pushes back on workers
/// when the database cannot keep up.
/// </summary>
public sealed partial class BatchCompleter(NpgsqlDataSource dataSource, QueueOptions options, NodeIdentity node, LoopHealth health, ILogger<BatchCompleter> logger)
{
    internal const string LoopName = "completer";
    private readonly Channel<JobOutcome> _outcomes = Channel.CreateBounded<JobOutcome>(new BoundedChannelOptions(10_000)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    public ValueTask SubmitAsync(JobOutcome outcome) => _outcomes.Writer.WriteAsync(outcome);

    /// <summary>No more outcomes will come; <see cref="RunAsync"/> ends after writing what it has.</summary>
    public void Complete() => _outcomes.Writer.TryComplete();

    public async Task RunAsync(CancellationToken ct)
    {
        health.Register(LoopName, TimeSpan.FromSeconds(10));
        var batch = new List<JobOutcome>(options.CompleterBatchSize);
        try
        {
            while (true)
            {
                // Passes while idle too: waiting for work is not being wedged.
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    idle.CancelAfter(TimeSpan.FromSeconds(2));
                    try
                    {
                        if (!await _outcomes.Reader.WaitToReadAsync(idle.Token)) break;
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        health.Passed(LoopName);
                        continue;
                    }
                }
                var deadline = DateTime.UtcNow + options.CompleterFlushInterval;
                while (batch.Count < options.CompleterBatchSize)
                {
                    if (_outcomes.Reader.TryRead(out var outcome)) { batch.Add(outcome); continue; }
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) break;
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    wait.CancelAfter(left);
                    try
                    {
                        if (!await _outcomes.Reader.WaitToReadAsync(wait.Token)) break;
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        break;
                    }
                }
                await FlushAsync(batch, ct);
                batch.Clear();
                health.Passed(LoopName);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping hard: what is left stays processing and is rescued after this node's row expires.
        }
        finally
        {
            health.Unregister(LoopName);
        }
    }

    private async Task FlushAsync(List<JobOutcome> batch, CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var written = await WriteAsync(batch, ct);
                if (written < batch.Count) FencedOut(logger, batch.Count - written);
                return;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                health.Failed(LoopName, e.Message);
                FlushFailed(logger, batch.Count, attempt, e.Message);
                await Task.Delay(delay, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5_000));
            }
        }
    }

    /// <summary>Writes the batch; returns how many outcomes passed the fence.</summary>
    private async Task<int> WriteAsync(List<JobOutcome> batch, CancellationToken ct)
    {
        var n = batch.Count;
        var ids = new long[n];
        var attempts = new int[n];
        var states = new string[n];
        var runAts = new DateTime?[n];
        var errors = new string?[n];
        var reasons = new string?[n];
        var uncount = new bool[n];
        var results = new string?[n];
        for (var i = 0; i < n; i++)
        {
            var o = batch[i];
            ids[i] = o.Job.Id;
            attempts[i] = o.Job.Attempt;
            (states[i], uncount[i]) = o.Kind switch
            {
                OutcomeKind.Succeeded => ("succeeded", false),
                OutcomeKind.Retry => ("scheduled", false),
                OutcomeKind.Failed => ("failed", false),
                OutcomeKind.Snoozed => ("scheduled", true),
                OutcomeKind.Cancelled => ("deleted", false),
                OutcomeKind.HandedBack => ("enqueued", true),
                _ => throw new ArgumentOutOfRangeException(nameof(batch)),
            };
            runAts[i] = o.RunAt;
            errors[i] = o.ErrorJson;
            reasons[i] = o.Reason;
            results[i] = o.ResultJson;
        }
        await using var command = dataSource.CreateCommand(JobQueries.Complete);
        command.Parameters.Add(new NpgsqlParameter<long[]>("ids", ids));
        command.Parameters.Add(new NpgsqlParameter<int[]>("attempts", attempts));
        command.Parameters.Add(new NpgsqlParameter<string[]>("states", states));
        command.Parameters.Add(new NpgsqlParameter("run_ats", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = runAts });
        command.Parameters.Add(new NpgsqlParameter("errors", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = errors });
        command.Parameters.Add(new NpgsqlParameter("reasons", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = reasons });
        command.Parameters.Add(new NpgsqlParameter<bool[]>("uncount", uncount));
        command.Parameters.Add(new NpgsqlParameter("results", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = results });
        command.Parameters.Add(new NpgsqlParameter<string>("node", node.Name));
        var written = 0;
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) written++;
        return written;
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "{Count} outcomes were not recorded: their jobs were rescued or changed meanwhile (fenced on attempt and node)")]
    private static partial void FencedOut(ILogger logger, int count);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "Recording {Count} outcomes failed (attempt {Attempt}): {Error}; retrying")]
    private static partial void FlushFailed(ILogger logger, int count, int attempt, string error);
}
