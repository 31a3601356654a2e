using System.Globalization;
using Dapper;
using Jobsd.Queue;
using Npgsql;

namespace Jobsd.Jobs.Builds;

/// <summary>A build job with everything its templates may use, read when it starts.</summary>
public sealed class BuildRow
{
    public Guid Id { get; init; }
    public string Status { get; init; } = "";
    public long? JobId { get; init; }
    public string? VmId { get; init; }
    public string Name { get; init; } = "";
    public string Architecture { get; init; } = "";
    public string ContextPath { get; init; } = "";
    public string DockerfilePath { get; init; } = "";
    public string? ImageTag { get; init; }
    public Guid WorkflowRunId { get; init; }
    public string WorkflowStatus { get; init; } = "";
    public Guid EnvironmentId { get; init; }
    public Guid ProjectId { get; init; }
    public Guid TeamId { get; init; }
    public string ProjectName { get; init; } = "";
    public string RepoUrl { get; init; } = "";
    public string Branch { get; init; } = "";
    public string? CommitSha { get; init; }
    public int? PrNumber { get; init; }
    public string SubdomainHash { get; init; } = "";
}

public enum BuildPlan
{
    /// <summary>Run it (first run, or a restart of a run that did not finish).</summary>
    Run,
    /// <summary>Nothing to do: already final, or running under another live job.</summary>
    Skip,
    /// <summary>The team is at its concurrent-build limit: try again later.</summary>
    Wait,
}

public sealed record BuildStart(BuildPlan Plan, BuildRow? Build, string Why, bool Restarted = false);

public enum BuildEnd { Completed, Failed, Cancelled }

/// <summary>How a build ended, as the runner (or the reaper) records it.</summary>
public sealed record BuildResult(BuildEnd End, int? ExitCode, string? Error, string? ArtifactUrl);

/// <summary>
/// The build runner's reads and writes in the system of record: claiming a build job (state
/// checks and the team limit under row locks), its transitions, and the workflow run roll-up.
/// Every transition writes an audit event; final updates happen in one transaction with the
/// queue job's completion.
/// </summary>
public sealed class BuildLedger(NpgsqlDataSource dataSource)
{
    public static readonly string[] FinalStatuses = ["completed", "failed", "cancelled"];

    /// <summary>
    /// Decides whether this job attempt runs the build and, if so, marks it provisioning on this
    /// node. The build row is locked first, then the team row: every start of a team's builds
    /// passes through that one lock, so the limit holds across nodes.
    /// </summary>
    public async Task<BuildStart> BeginAsync(Guid buildJobId, JobContext job, Func<BuildRow, string> imageTag, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var build = await connection.QuerySingleOrDefaultAsync<BuildRow>(new CommandDefinition("""
            select b.id, b.status, b.job_id as jobid, b.vm_id as vmid, b.name, b.architecture, b.context_path as contextpath,
                   b.dockerfile_path as dockerfilepath, b.image_tag as imagetag, b.workflow_run_id as workflowrunid,
                   w.status as workflowstatus, w.environment_id as environmentid, e.project_id as projectid, p.team_id as teamid,
                   p.name as projectname, p.repo_url as repourl, e.branch, e.commit_sha as commitsha, e.pr_number as prnumber,
                   e.subdomain_hash as subdomainhash
            from build_jobs b
            join workflow_runs w on w.id = b.workflow_run_id
            join environments e on e.id = w.environment_id
            join projects p on p.id = e.project_id
            where b.id = @id
            for update of b
            """, new { id = buildJobId }, tx, cancellationToken: ct));
        if (build is null) throw new JobPermanentException($"build job {buildJobId} does not exist");
        if (FinalStatuses.Contains(build.Status)) return new BuildStart(BuildPlan.Skip, build, $"build job {buildJobId} is already {build.Status}");

        var restarted = build.Status is "provisioning" or "running";
        if (restarted && build.JobId is { } other && other != job.Id)
        {
            var otherState = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "select state from queue.jobs where id = @other", new { other }, tx, cancellationToken: ct));
            if (otherState == "processing")
            {
                return new BuildStart(BuildPlan.Skip, build, $"build job {buildJobId} is {build.Status} under job {other} on {build.VmId}; not running it twice");
            }
        }
        if (build.WorkflowStatus == "cancelled")
        {
            await FinishInAsync(connection, tx, build.Id, job.Id, job.Node, new BuildResult(BuildEnd.Cancelled, null, "workflow run was cancelled", null), requireJob: false, ct);
            await job.CompleteWithinAsync(connection, tx, ct);
            await tx.CommitAsync(ct);
            return new BuildStart(BuildPlan.Skip, build, $"workflow run {build.WorkflowRunId} was cancelled");
        }

        var limit = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "select max_concurrent_builds from teams where id = @team for update", new { team = build.TeamId }, tx, cancellationToken: ct));
        var active = await connection.ExecuteScalarAsync<long>(new CommandDefinition("""
            select count(*) from build_jobs b
            join workflow_runs w on w.id = b.workflow_run_id
            join environments e on e.id = w.environment_id
            join projects p on p.id = e.project_id
            where b.status in ('provisioning', 'running') and p.team_id = @team and b.id <> @id
            """, new { team = build.TeamId, id = build.Id }, tx, cancellationToken: ct));
        if (active >= limit)
        {
            return new BuildStart(BuildPlan.Wait, build, $"team {build.TeamId} has {active} of {limit} builds running");
        }

        var tag = build.ImageTag ?? imageTag(build);
        await connection.ExecuteAsync(new CommandDefinition("""
            update build_jobs
            set status = 'provisioning', started_at = now(), completed_at = null, duration_ms = null, exit_code = null,
                error = null, artifact_url = null, vm_id = @node, job_id = @job, image_tag = @tag
            where id = @id
            """, new { id = build.Id, node = job.Node, job = job.Id, tag }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition("""
            update workflow_runs set status = 'building', started_at = coalesce(started_at, now())
            where id = @run and status = 'queued'
            """, new { run = build.WorkflowRunId }, tx, cancellationToken: ct));
        await AuditAsync(connection, tx, build.TeamId, job.Node, restarted ? "build.restarted" : "build.started", "build_job", build.Id.ToString(),
            new { job_id = job.Id, node = job.Node, attempt = job.Attempt, previous_job_id = restarted ? build.JobId : null, previous_node = restarted ? build.VmId : null }, ct);
        await tx.CommitAsync(ct);
        return new BuildStart(BuildPlan.Run, new BuildRow
        {
            Id = build.Id, Status = "provisioning", JobId = job.Id, VmId = job.Node, Name = build.Name, Architecture = build.Architecture,
            ContextPath = build.ContextPath, DockerfilePath = build.DockerfilePath, ImageTag = tag, WorkflowRunId = build.WorkflowRunId,
            WorkflowStatus = "building", EnvironmentId = build.EnvironmentId, ProjectId = build.ProjectId, TeamId = build.TeamId,
            ProjectName = build.ProjectName, RepoUrl = build.RepoUrl, Branch = build.Branch, CommitSha = build.CommitSha,
            PrNumber = build.PrNumber, SubdomainHash = build.SubdomainHash,
        }, !restarted ? "started"
            : build.JobId == job.Id ? $"attempt {job.Attempt - 1} of job {job.Id} on {build.VmId} did not finish it"
            : $"job {build.JobId} on {build.VmId} did not finish it", restarted);
    }

    /// <summary>provisioning → running; false when the build is no longer this job's (cancelled or taken over meanwhile).</summary>
    public async Task<bool> MarkRunningAsync(Guid buildJobId, long jobId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(
            "update build_jobs set status = 'running' where id = @id and job_id = @job and status = 'provisioning'",
            new { id = buildJobId, job = jobId }, cancellationToken: ct)) == 1;
    }

    /// <summary>True while the build is still this job's to run (not cancelled by another system, not taken over).</summary>
    public async Task<bool> StillOursAsync(Guid buildJobId, long jobId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "select exists (select 1 from build_jobs where id = @id and job_id = @job and status in ('provisioning', 'running'))",
            new { id = buildJobId, job = jobId }, cancellationToken: ct));
    }

    public async Task<string?> StatusAsync(Guid buildJobId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "select status from build_jobs where id = @id", new { id = buildJobId }, cancellationToken: ct));
    }

    /// <summary>
    /// Records the end of a build, rolls up its workflow run and, unless <paramref name="completeJob"/>
    /// is false (a cancel, which the engine records as deleted), completes the queue job — one
    /// transaction. Returns the status the build has afterwards (another system may have made it
    /// final first; that is kept).
    /// </summary>
    public async Task<string> FinishAsync(Guid buildJobId, JobContext job, BuildResult result, bool completeJob, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var status = await FinishInAsync(connection, tx, buildJobId, job.Id, job.Node, result, requireJob: true, ct);
        if (completeJob) await job.CompleteWithinAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
        return status;
    }

    private static async Task<string> FinishInAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid buildJobId, long jobId, string node,
        BuildResult result, bool requireJob, CancellationToken ct)
    {
        var status = result.End switch { BuildEnd.Completed => "completed", BuildEnd.Failed => "failed", _ => "cancelled" };
        var updated = await connection.QuerySingleOrDefaultAsync<RunAndTeam>(new CommandDefinition("""
            with done as (
                update build_jobs b
                set status = @status, completed_at = now(),
                    duration_ms = case when started_at is null then null else greatest(0, (extract(epoch from now() - started_at) * 1000)::bigint) end,
                    exit_code = @exit, error = @error, artifact_url = @artifact
                where id = @id and status not in ('completed', 'failed', 'cancelled') and (not @require or job_id = @job)
                returning workflow_run_id
            )
            select d.workflow_run_id as run, p.team_id as team from done d
            join workflow_runs w on w.id = d.workflow_run_id
            join environments e on e.id = w.environment_id
            join projects p on p.id = e.project_id
            """, new { id = buildJobId, status, exit = result.ExitCode, error = result.Error, artifact = result.ArtifactUrl, require = requireJob, job = jobId },
            tx, cancellationToken: ct));
        if (updated is { } u)
        {
            await AuditAsync(connection, tx, u.Team, node, $"build.{status}", "build_job", buildJobId.ToString(),
                new { job_id = jobId, exit_code = result.ExitCode, error = result.Error, artifact_url = result.ArtifactUrl }, ct);
            await RollUpAsync(connection, tx, u.Run, node, ct);
            return status;
        }
        // Someone else ended it (a status update by another system, the reaper): keep theirs,
        // but make sure its workflow run still rolls up.
        var current = await connection.QuerySingleOrDefaultAsync<StatusAndRun>(new CommandDefinition(
            "select status, workflow_run_id as run from build_jobs where id = @id", new { id = buildJobId }, tx, cancellationToken: ct));
        if (current is { } c)
        {
            if (FinalStatuses.Contains(c.Status)) await RollUpAsync(connection, tx, c.Run, node, ct);
            return c.Status;
        }
        return "gone";
    }

    /// <summary>
    /// Once all of a workflow run's build jobs are final, the run ends: completed (result success)
    /// when all completed, failed (result failure) when any failed, else cancelled; its environment
    /// moves on — deploying after success, failed otherwise. The run row is locked, so of two builds
    /// ending at once exactly one sees the other's end and rolls up.
    /// </summary>
    public static async Task RollUpAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid runId, string actor, CancellationToken ct)
    {
        var run = await connection.QuerySingleOrDefaultAsync<StatusAndEnvironment>(new CommandDefinition(
            "select status, environment_id as environment from workflow_runs where id = @run for update", new { run = runId }, tx, cancellationToken: ct));
        if (run is not { } r || FinalStatuses.Contains(r.Status)) return;
        var counts = await connection.QuerySingleAsync<BuildCounts>(new CommandDefinition("""
            select count(*) filter (where status not in ('completed', 'failed', 'cancelled')) as open,
                   count(*) filter (where status = 'completed') as completed,
                   count(*) filter (where status = 'failed') as failed,
                   count(*) filter (where status = 'cancelled') as cancelled,
                   string_agg(name, ', ' order by name) filter (where status = 'failed') as failednames
            from build_jobs where workflow_run_id = @run
            """, new { run = runId }, tx, cancellationToken: ct));
        if (counts.Open > 0 || counts.Completed + counts.Failed + counts.Cancelled == 0) return;
        var (status, outcome, environment) = counts.Failed > 0 ? ("failed", "failure", "failed")
            : counts.Cancelled > 0 ? ("cancelled", "cancelled", "failed")
            : ("completed", "success", "deploying");
        var error = counts.Failed > 0 ? $"{counts.Failed} of {counts.Completed + counts.Failed + counts.Cancelled} builds failed: {counts.FailedNames}"
            : counts.Cancelled > 0 ? $"{counts.Cancelled} builds cancelled" : null;
        var moved = await connection.QuerySingleAsync<TeamAndMoved>(new CommandDefinition("""
            with run as (
                update workflow_runs
                set status = @status, error = @error, completed_at = now(),
                    duration_ms = greatest(0, (extract(epoch from now() - coalesce(started_at, queued_at)) * 1000)::bigint),
                    result = jsonb_build_object('result', @outcome::text,
                        'builds', jsonb_build_object('completed', @completed, 'failed', @failed, 'cancelled', @cancelled))
                where id = @run
                returning environment_id
            ),
            env as (
                update environments e set status = @environment
                from run where e.id = run.environment_id and e.status not in ('terminated', 'reaped')
                returning e.id
            )
            select p.team_id as team, exists (select 1 from env) as moved
            from environments e join projects p on p.id = e.project_id where e.id = @env
            """, new { status, error, outcome, completed = counts.Completed, failed = counts.Failed, cancelled = counts.Cancelled, run = runId, environment, env = r.Environment },
            tx, cancellationToken: ct));
        await AuditAsync(connection, tx, moved.Team, actor, $"workflow_run.{status}", "workflow_run", runId.ToString(),
            new { result = outcome, completed = counts.Completed, failed = counts.Failed, cancelled = counts.Cancelled }, ct);
        if (moved.Moved)
        {
            await AuditAsync(connection, tx, moved.Team, actor, $"environment.{environment}", "environment", r.Environment.ToString(),
                new { workflow_run_id = runId }, ct);
        }
    }

    /// <summary>
    /// The reaper's half: marks build jobs (already locked by the caller) failed because nothing
    /// runs them any more, says why in their error, and rolls up their workflow runs.
    /// </summary>
    public static async Task AbandonAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid[] ids, DateTimeOffset now, TimeSpan timeout, CancellationToken ct)
    {
        var runs = (await connection.QueryAsync<Guid>(new CommandDefinition("""
            with abandoned as (
                update build_jobs b
                set status = 'failed', completed_at = @now,
                    duration_ms = case when b.started_at is null then null else greatest(0, (extract(epoch from @now - b.started_at) * 1000)::bigint) end,
                    error = case
                        when b.started_at < @now - @timeout then 'abandoned: still ' || b.status || ' after Builds:Timeout plus the reaper''s grace (' || @timeout::text || ')'
                        else 'abandoned: its queue job ' || b.job_id || ' is ' || coalesce((select j.state from queue.jobs j where j.id = b.job_id), 'gone') || ' but the build was still ' || b.status
                    end
                where b.id = any(@ids)
                returning b.id, b.workflow_run_id, b.error, b.job_id
            ),
            audited as (
                insert into audit_events (created_at, team_id, actor, action, target_type, target_id, data)
                select @now, p.team_id, 'jobsd-reaper', 'build.abandoned', 'build_job', a.id::text, jsonb_build_object('error', a.error, 'job_id', a.job_id)
                from abandoned a
                join workflow_runs w on w.id = a.workflow_run_id
                join environments e on e.id = w.environment_id
                join projects p on p.id = e.project_id
            )
            select distinct workflow_run_id from abandoned order by 1
            """, new { ids, now, timeout }, tx, cancellationToken: ct))).ToList();
        foreach (var run in runs) await RollUpAsync(connection, tx, run, "reaper", ct);
    }

    private sealed record RunAndTeam(Guid Run, Guid Team);
    private sealed record StatusAndRun(string Status, Guid Run);
    private sealed record StatusAndEnvironment(string Status, Guid Environment);
    private sealed record BuildCounts(long Open, long Completed, long Failed, long Cancelled, string? FailedNames);
    private sealed record TeamAndMoved(Guid Team, bool Moved);

    private static Task AuditAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid team, string node, string action, string targetType, string targetId, object data, CancellationToken ct) =>
        AuditEvents.WriteAsync(connection, tx, team, "jobsd:" + node, action, targetType, targetId, data, ct);

    internal static string Platform(string architecture) => architecture switch
    {
        "amd64" => "linux/amd64",
        "arm64" => "linux/arm64",
        "multi" => "linux/amd64,linux/arm64",
        _ => "linux/" + architecture,
    };

    internal static string Text(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "";
}
