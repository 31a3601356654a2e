using System.Diagnostics;
using System.Diagnostics.Metrics;
using Jobsd.Queue;
using Microsoft.Extensions.Logging;
using Jobsd.Jobs.Builds;
using Npgsql;

namespace Jobsd.Jobs.Reaping;

/// <summary>What a run reaped (or, dry, would reap), per category.</summary>
public sealed record ReapCounts(long Environments, long Agents, long RefreshTokens, long BuildLogs, long AbandonedBuilds = 0)
{
    public long Total => Environments + Agents + RefreshTokens + BuildLogs + AbandonedBuilds;

    public override string ToString() =>
        $"environments {Environments}, agent connections {Agents}, abandoned builds {AbandonedBuilds}, refresh tokens {RefreshTokens}, build log lines {BuildLogs}";
}

/// <summary>
/// Retires what stopped reporting and deletes what outlived its retention in the system of
/// record. Each category works in batches (<see cref="ReaperSettings.BatchSize"/>, rows taken
/// with SKIP LOCKED so the application's own writers are never waited on), one short
/// transaction per batch, until nothing is left or the run's time budget is spent.
/// A reaped environment gets, in its batch's transaction, an audit event and one
/// <c>environment.terminate</c> job (unique per environment).
/// </summary>
public sealed partial class Reaper(NpgsqlDataSource dataSource, ReaperSettings settings, BuildSettings builds, ILogger<Reaper> logger)
{
    private static readonly Meter Meter = new(JobsdMetrics.MeterName);
    private static readonly Counter<long> Reaped = Meter.CreateCounter<long>("jobsd.reaper.reaped", description: "Rows the reaper retired or deleted, by category");

    private const string StaleEnvironments = """
        select id from environments
        where status in ('building', 'deploying', 'ready') and coalesce(last_heartbeat_at, updated_at) < @now - @timeout
        """;
    private const string SilentAgents = "select id from agent_connections where status = 'connected' and last_seen_at < @now - @timeout";
    private const string DeadTokens = "select id from refresh_tokens where expires_at < @now - @timeout or revoked_at < @now - @timeout";
    // Still queued or retrying counts as alive: only a queue job that ended (or vanished) abandons its build.
    private const string AbandonedBuilds = """
        select b.id from build_jobs b
        where b.status in ('provisioning', 'running')
          and (b.started_at < @now - @timeout
               or (b.job_id is not null and not exists (
                   select 1 from queue.jobs j where j.id = b.job_id and j.state in ('scheduled', 'enqueued', 'processing'))))
        """;
    private const string OldLogLines = "select id from build_logs where logged_at < @now - @timeout";

    public async Task<ReapCounts> RunAsync(DateTimeOffset now, bool dryRun, CancellationToken ct)
    {
        var budget = Stopwatch.StartNew();
        var counts = new ReapCounts(
            settings.ReapEnvironments ? await CategoryAsync<Guid>("environments", StaleEnvironments, settings.EnvironmentHeartbeatTimeout, EnvironmentsAsync) : 0,
            settings.ReapAgents ? await CategoryAsync<Guid>("agents", SilentAgents, settings.AgentTimeout, AgentsAsync) : 0,
            settings.ReapRefreshTokens ? await CategoryAsync<Guid>("refresh_tokens", DeadTokens, settings.RefreshTokenGrace,
                (c, tx, ids) => DeleteAsync(c, tx, "refresh_tokens", ids)) : 0,
            settings.ReapBuildLogs ? await CategoryAsync<long>("build_logs", OldLogLines, settings.BuildLogRetention,
                (c, tx, ids) => DeleteAsync(c, tx, "build_logs", ids)) : 0,
            settings.ReapAbandonedBuilds ? await CategoryAsync<Guid>("abandoned_builds", AbandonedBuilds, builds.Timeout + settings.AbandonedBuildGrace,
                (c, tx, ids) => BuildLedger.AbandonAsync(c, tx, ids, now, builds.Timeout + settings.AbandonedBuildGrace, ct)) : 0);
        if (counts.Total > 0) Summary(logger, dryRun ? "would reap" : "reaped", counts.ToString());
        else NothingToReap(logger);
        return counts;

        async Task<long> CategoryAsync<TId>(string category, string select, TimeSpan timeout, Func<NpgsqlConnection, NpgsqlTransaction, TId[], Task> act)
        {
            if (dryRun)
            {
                await using var count = dataSource.CreateCommand($"select count(*) from ({select}) x");
                count.Parameters.AddWithValue("now", now);
                count.Parameters.AddWithValue("timeout", timeout);
                return (long)(await count.ExecuteScalarAsync(ct))!;
            }
            long total = 0;
            while (budget.Elapsed < settings.TimeBudget)
            {
                await using var connection = await dataSource.OpenConnectionAsync(ct);
                await using var tx = await connection.BeginTransactionAsync(ct);
                var ids = new List<TId>();
                await using (var pick = new NpgsqlCommand($"{select} limit @batch for update skip locked", connection, tx))
                {
                    pick.Parameters.AddWithValue("now", now);
                    pick.Parameters.AddWithValue("timeout", timeout);
                    pick.Parameters.AddWithValue("batch", settings.BatchSize);
                    await using var reader = await pick.ExecuteReaderAsync(ct);
                    while (await reader.ReadAsync(ct)) ids.Add(reader.GetFieldValue<TId>(0));
                }
                if (ids.Count > 0) await act(connection, tx, ids.ToArray());
                await tx.CommitAsync(ct);
                total += ids.Count;
                Reaped.Add(ids.Count, new KeyValuePair<string, object?>("category", category));
                if (ids.Count < settings.BatchSize) break;
                // A breath between batches for the application's own writers.
                await Task.Delay(TimeSpan.FromMilliseconds(20), ct);
            }
            return total;
        }

        async Task EnvironmentsAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid[] ids)
        {
            await using var command = new NpgsqlCommand("""
                with reaped as (
                    update environments e set status = 'reaped', terminated_at = @now, updated_at = @now
                    where e.id = any(@ids)
                    returning e.id, e.vm_id, e.subdomain_hash, e.status
                ),
                audited as (
                    insert into audit_events (created_at, actor, action, target_type, target_id, data)
                    select @now, 'jobsd-reaper', 'environment.reaped', 'environment', r.id::text,
                           jsonb_build_object('reason', 'no heartbeat for ' || @timeout::text, 'vm_id', r.vm_id)
                    from reaped r
                )
                select count(*) from reaped r,
                    queue.enqueue_job(kind => 'environment.terminate',
                        args => jsonb_build_object('environment_id', r.id, 'vm_id', r.vm_id, 'subdomain_hash', r.subdomain_hash),
                        queue => 'maintenance', unique_key => 'environment.terminate:' || r.id, allow_unknown => true)
                """, c, tx);
            command.Parameters.AddWithValue("now", now);
            command.Parameters.AddWithValue("timeout", settings.EnvironmentHeartbeatTimeout);
            command.Parameters.AddWithValue("ids", ids);
            await command.ExecuteNonQueryAsync(ct);
        }

        async Task AgentsAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid[] ids)
        {
            await using var command = new NpgsqlCommand(
                "update agent_connections set status = 'disconnected', disconnected_at = @now, updated_at = @now where id = any(@ids)", c, tx);
            command.Parameters.AddWithValue("now", now);
            command.Parameters.AddWithValue("ids", ids);
            await command.ExecuteNonQueryAsync(ct);
        }

        async Task DeleteAsync<TId>(NpgsqlConnection c, NpgsqlTransaction tx, string table, TId[] ids)
        {
            // `table` is one of two constants above, never input.
            await using var command = new NpgsqlCommand($"delete from {table} where id = any(@ids)", c, tx);
            command.Parameters.AddWithValue("ids", ids);
            await command.ExecuteNonQueryAsync(ct);
        }
    }

    [LoggerMessage(EventId = 7201, Level = LogLevel.Information, Message = "Reaper {Verb}: {Counts}")]
    private static partial void Summary(ILogger logger, string verb, string counts);

    [LoggerMessage(EventId = 7202, Level = LogLevel.Debug, Message = "Reaper: nothing to reap")]
    private static partial void NothingToReap(ILogger logger);
}
