using Npgsql;

namespace Jobsd.Queue;

/// <summary>What a running handler may know and do about its own job.</summary>
public sealed class JobContext
{
    private readonly Func<NpgsqlConnection, NpgsqlTransaction, CancellationToken, Task<bool>> _completeWithin;

    internal JobContext(long id, string kind, string queue, int attempt, int maxAttempts, string node,
        Func<NpgsqlConnection, NpgsqlTransaction, CancellationToken, Task<bool>> completeWithin)
    {
        Id = id;
        Kind = kind;
        Queue = queue;
        Attempt = attempt;
        MaxAttempts = maxAttempts;
        Node = node;
        _completeWithin = completeWithin;
    }

    public long Id { get; }
    public string Kind { get; }
    public string Queue { get; }

    /// <summary>1 on the first run.</summary>
    public int Attempt { get; }

    public int MaxAttempts { get; }
    public string Node { get; }

    /// <summary>Set once the job was completed inside a handler's own transaction.</summary>
    internal bool CompletedInTransaction { get; private set; }

    /// <summary>
    /// Marks the job succeeded inside the handler's own transaction, so a handler that only
    /// writes to PostgreSQL has its effect exactly once: if the transaction commits, the job is
    /// done; if it rolls back (or this node lost the job to a rescue), neither happened.
    /// Throws <see cref="InvalidOperationException"/> when the job is no longer this attempt's
    /// to complete — roll back then.
    /// </summary>
    public async Task CompleteWithinAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        if (!await _completeWithin(connection, transaction, ct))
        {
            throw new InvalidOperationException($"job {Id} attempt {Attempt} is no longer processing on {Node}; roll back");
        }
        CompletedInTransaction = true;
    }
}
