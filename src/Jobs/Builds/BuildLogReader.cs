using Dapper;
using Npgsql;

namespace Jobsd.Jobs.Builds;

public sealed record BuildLogLine(long Id, DateTime At, string Stream, string Line);

/// <summary>A build job as its log viewers see it.</summary>
public sealed class BuildInfo
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public string Status { get; init; } = "";
    public string Architecture { get; init; } = "";
    public Guid WorkflowRunId { get; init; }
    public string WorkflowStatus { get; init; } = "";
    public long? JobId { get; init; }
    public string? VmId { get; init; }
    public string? ImageTag { get; init; }
    public DateTime QueuedAt { get; init; }
    public DateTime? StartedAt { get; init; }
    public DateTime? CompletedAt { get; init; }
    public decimal? DurationSeconds { get; init; }
    public int? ExitCode { get; init; }
    public string? Error { get; init; }
    public string? ArtifactUrl { get; init; }
    public bool Final => BuildLedger.FinalStatuses.Contains(Status);
}

/// <summary>Reads build logs for the dashboard and the API: pages by line id (build_logs_build_job_idx), so following a running build costs one index range scan per poll.</summary>
public sealed class BuildLogReader(NpgsqlDataSource dataSource)
{
    public const int MaxPage = 5_000;

    public async Task<BuildInfo?> BuildAsync(Guid id, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<BuildInfo>(new CommandDefinition("""
            select b.id, b.name, b.status, b.architecture, b.workflow_run_id as workflowrunid, w.status as workflowstatus,
                   b.job_id as jobid, b.vm_id as vmid, b.image_tag as imagetag, b.queued_at as queuedat, b.started_at as startedat,
                   b.completed_at as completedat, b.duration_seconds as durationseconds, b.exit_code as exitcode, b.error,
                   b.artifact_url as artifacturl
            from build_jobs b join workflow_runs w on w.id = b.workflow_run_id
            where b.id = @id
            """, new { id }, cancellationToken: ct));
    }

    /// <summary>Lines after <paramref name="after"/> (a line id; 0 from the start), oldest first.</summary>
    public async Task<IReadOnlyList<BuildLogLine>> LinesAsync(Guid id, long after, int limit, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<BuildLogLine>(new CommandDefinition("""
            select id, logged_at as at, stream, line from build_logs
            where build_job_id = @id and id > @after
            order by id
            limit @limit
            """, new { id, after, limit = Math.Clamp(limit, 1, MaxPage) }, cancellationToken: ct));
        return rows.ToList();
    }

    /// <summary>The last <paramref name="count"/> lines, oldest first, and whether earlier ones exist.</summary>
    public async Task<(IReadOnlyList<BuildLogLine> Lines, bool More)> TailAsync(Guid id, int count, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var rows = (await connection.QueryAsync<BuildLogLine>(new CommandDefinition("""
            select id, logged_at as at, stream, line from build_logs
            where build_job_id = @id
            order by id desc
            limit @limit
            """, new { id, limit = Math.Clamp(count, 1, MaxPage) + 1 }, cancellationToken: ct))).ToList();
        var more = rows.Count > count;
        if (more) rows.RemoveAt(rows.Count - 1);
        rows.Reverse();
        return (rows, more);
    }

    /// <summary>Writes the whole log as text, streaming (a million lines never sit in memory).</summary>
    public async Task WriteTextAsync(Guid id, TextWriter output, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var command = new NpgsqlCommand("select line from build_logs where build_job_id = @id order by id", connection);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            await output.WriteLineAsync(reader.GetString(0));
        }
    }
}
