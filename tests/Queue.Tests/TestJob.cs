using Npgsql;

namespace Jobsd.Queue.Tests;

/// <summary>A handler whose behaviour the args choose, leaving evidence in <c>test_runs</c>.</summary>
public sealed record TestArgs(string Key, int SleepMs = 0, int FailAttempts = 0, bool Permanent = false, int SnoozeAttempts = 0, bool Transactional = false) : IJobArgs
{
    public static string Kind => "test";
}

public sealed class TestJob(NpgsqlDataSource dataSource) : IJob<TestArgs>
{
    public const string Schema = """
        create table if not exists test_runs (
            id bigint generated always as identity primary key,
            key text not null,
            job_id bigint not null,
            attempt int not null,
            node text not null,
            started_at timestamptz not null default clock_timestamp(),
            finished_at timestamptz
        );
        -- A transactional handler's effect: at most one row per key.
        create table if not exists test_effects (key text primary key, job_id bigint not null);
        """;

    public async Task ExecuteAsync(TestArgs args, JobContext context, CancellationToken ct)
    {
        long runId;
        // Behaviour follows the number of runs so far (this one included), not the attempt
        // number: snoozes and operator retries do not advance attempts.
        long run;
        await using (var start = dataSource.CreateCommand("""
            with r as (insert into test_runs (key, job_id, attempt, node) values (@k, @j, @a, @n) returning id)
            select r.id, (select count(*) from test_runs where key = @k) + 1 from r
            """))
        {
            start.Parameters.AddWithValue("k", args.Key);
            start.Parameters.AddWithValue("j", context.Id);
            start.Parameters.AddWithValue("a", context.Attempt);
            start.Parameters.AddWithValue("n", context.Node);
            await using var reader = await start.ExecuteReaderAsync(CancellationToken.None);
            await reader.ReadAsync(CancellationToken.None);
            (runId, run) = (reader.GetInt64(0), reader.GetInt64(1));
        }
        if (run <= args.SnoozeAttempts) throw new JobSnoozeException(TimeSpan.Zero);
        if (args.SleepMs > 0) await Task.Delay(args.SleepMs, ct);
        if (run <= args.FailAttempts + args.SnoozeAttempts)
        {
            if (args.Permanent) throw new JobPermanentException($"permanent failure of {args.Key}");
            throw new InvalidOperationException($"failure {context.Attempt} of {args.Key}");
        }
        if (args.Transactional)
        {
            await using var connection = await dataSource.OpenConnectionAsync(ct);
            await using var tx = await connection.BeginTransactionAsync(ct);
            await using (var effect = new NpgsqlCommand("insert into test_effects (key, job_id) values (@k, @j)", connection, tx))
            {
                effect.Parameters.AddWithValue("k", args.Key);
                effect.Parameters.AddWithValue("j", context.Id);
                await effect.ExecuteNonQueryAsync(ct);
            }
            await context.CompleteWithinAsync(connection, tx, ct);
            await tx.CommitAsync(ct);
        }
        await using var finish = dataSource.CreateCommand("update test_runs set finished_at = clock_timestamp() where id = @id");
        finish.Parameters.AddWithValue("id", runId);
        await finish.ExecuteNonQueryAsync(CancellationToken.None);
    }
}
