using System.Text.Json;
using Npgsql;

namespace Jobsd.Queue;

/// <summary>What a running handler may know and do about its own job.</summary>
public sealed class JobContext
{
    /// <summary>Results are summaries for operators, not payloads: a larger one is refused.</summary>
    public const int MaxResultBytes = 64 * 1024;

    private readonly Func<NpgsqlConnection, NpgsqlTransaction, string?, CancellationToken, Task<bool>> _completeWithin;
    private readonly Func<bool> _cancelRequested;

    internal JobContext(long id, string kind, string queue, int attempt, int maxAttempts, string node,
        Func<NpgsqlConnection, NpgsqlTransaction, string?, CancellationToken, Task<bool>> completeWithin,
        Func<bool>? cancelRequested = null)
    {
        Id = id;
        Kind = kind;
        Queue = queue;
        Attempt = attempt;
        MaxAttempts = maxAttempts;
        Node = node;
        _completeWithin = completeWithin;
        _cancelRequested = cancelRequested ?? (() => false);
    }

    /// <summary>
    /// A context for running a handler outside the engine (a CLI verb, a test): attempt 1 of 1,
    /// no cancel requests; <see cref="CompleteWithinAsync"/> refuses, since there is no job row.
    /// </summary>
    public static JobContext Detached(string kind, string node = "detached") =>
        new(0, kind, "", 1, 1, node, (_, _, _, _) => Task.FromResult(false));

    public long Id { get; }
    public string Kind { get; }
    public string Queue { get; }

    /// <summary>1 on the first run.</summary>
    public int Attempt { get; }

    public int MaxAttempts { get; }
    public string Node { get; }

    /// <summary>
    /// True once an operator asked to cancel this job. A handler whose token fired reads it to
    /// tell a cancel (record it as such) from a shutdown (leave the work to be resumed).
    /// </summary>
    public bool CancelRequested => _cancelRequested();

    /// <summary>Set once the job was completed inside a handler's own transaction.</summary>
    internal bool CompletedInTransaction { get; private set; }

    /// <summary>The result recorded with the job when it succeeds (JSON, snake_case), or null.</summary>
    public string? ResultJson { get; private set; }

    /// <summary>
    /// Records what the job did (counts, an outcome) with the job when it succeeds; operators see
    /// it in the dashboard, the API and the CLI. Serialised like args (snake_case). The last call wins.
    /// </summary>
    public void SetResult<T>(T result)
    {
        var json = JsonSerializer.Serialize(result, JobArgsJson.Options);
        if (System.Text.Encoding.UTF8.GetByteCount(json) > MaxResultBytes)
        {
            throw new ArgumentException($"job result is larger than {MaxResultBytes} bytes; keep it to a summary", nameof(result));
        }
        ResultJson = json;
    }

    /// <summary>
    /// Marks the job succeeded inside the handler's own transaction, so a handler that only
    /// writes to PostgreSQL has its effect exactly once: if the transaction commits, the job is
    /// done; if it rolls back (or this node lost the job to a rescue), neither happened.
    /// Records the result set so far. Throws <see cref="InvalidOperationException"/> when the
    /// job is no longer this attempt's to complete — roll back then.
    /// </summary>
    public async Task CompleteWithinAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        if (!await _completeWithin(connection, transaction, ResultJson, ct))
        {
            throw new InvalidOperationException($"job {Id} attempt {Attempt} is no longer processing on {Node}; roll back");
        }
        CompletedInTransaction = true;
    }
}
