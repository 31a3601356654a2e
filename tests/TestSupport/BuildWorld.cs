using Dapper;
using Jobsd.Jobs.Builds;
using Jobsd.Queue;
using Xunit;
using Microsoft.Extensions.DependencyInjection;

namespace Jobsd.TestSupport;

/// <summary>
/// The platform rows a build needs (team → project → environment → workflow run → build jobs),
/// enqueued the way other systems do it (SQL in one transaction), and nodes that run them.
/// </summary>
public sealed class BuildWorld(TestDatabase db)
{
    public Guid Team { get; } = Guid.NewGuid();
    public Guid Project { get; } = Guid.NewGuid();
    public Guid Environment { get; } = Guid.NewGuid();
    public Guid Run { get; } = Guid.NewGuid();
    public string Workspace { get; } = Path.Combine(Path.GetTempPath(), "jobsd-test-builds-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task SeedAsync(int maxConcurrentBuilds = 4, string repoUrl = "https://example.invalid/repo.git", string? commit = null, string branch = "main")
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("""
            insert into teams (id, name, max_concurrent_builds) values (@team, 'team-' || @team, @max);
            insert into projects (id, team_id, name, repo_url) values (@project, @team, 'web', @repo);
            insert into environments (id, project_id, branch, commit_sha, subdomain_hash, status) values (@env, @project, @branch, @commit, 'h-' || @env, 'pending');
            insert into workflow_runs (id, environment_id, trigger) values (@run, @env, 'push');
            -- As in production, some node has run before, so queue.enqueue knows the kind.
            insert into queue.kinds (kind, queue, max_attempts, node) values ('build', 'builds', 3, 'an-earlier-node') on conflict do nothing;
            """, new { team = Team, project = Project, env = Environment, run = Run, max = maxConcurrentBuilds, repo = repoUrl, commit, branch });
    }

    /// <summary>Inserts a queued build job and enqueues its build in the same transaction, as the README shows.</summary>
    public async Task<(Guid Build, long Job)> AddBuildAsync(string name = "image", string contextPath = ".", bool enqueue = true)
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        var id = await c.ExecuteScalarAsync<Guid>(
            "insert into build_jobs (workflow_run_id, name, context_path) values (@run, @name, @contextPath) returning id",
            new { run = Run, name, contextPath }, tx);
        long job = 0;
        if (enqueue)
        {
            job = await c.ExecuteScalarAsync<long>(
                "select queue.enqueue('build', jsonb_build_object('build_job_id', @id), queue => 'builds', unique_key => @id::text)", new { id }, tx);
        }
        await tx.CommitAsync();
        return (id, job);
    }

    public BuildSettings Settings(string script) => new()
    {
        Command = ["/bin/sh", "-c", script],
        Checkout = false,
        Workspace = Workspace,
        LogFlushInterval = TimeSpan.FromMilliseconds(50),
        StatusPollInterval = TimeSpan.FromMilliseconds(200),
        TeamLimitDelay = TimeSpan.FromMilliseconds(200),
    };

    public Task<NodeHost> StartNodeAsync(BuildSettings settings, int workers = 2) =>
        NodeHost.StartAsync(db.ConnectionString, s => s.AddJobsdBuilds(settings), o =>
        {
            o.Queues["builds"] = new QueueSettings { Workers = workers };
        });

    public sealed record BuildRow(string Status, int? ExitCode, string? Error, string? ArtifactUrl, DateTime? StartedAt, DateTime? CompletedAt, long? JobId, string? VmId, string? ImageTag);

    public async Task<BuildRow> BuildAsync(Guid id)
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        return await c.QuerySingleAsync<BuildRow>("""
            select status, exit_code as exitcode, error, artifact_url as artifacturl, started_at as startedat, completed_at as completedat,
                   job_id as jobid, vm_id as vmid, image_tag as imagetag
            from build_jobs where id = @id
            """, new { id });
    }

    public async Task<BuildRow> WaitForBuildAsync(Guid id, Func<BuildRow, bool> done, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var row = await BuildAsync(id);
            if (done(row)) return row;
            if (DateTime.UtcNow > deadline)
            {
                var jobs = await ScalarAsync<string>("select string_agg(id || ' ' || state || ' ' || errors::text, E'\n') from queue.jobs where args->>'build_job_id' = @id::text", new { id });
                var log = string.Join('\n', (await LogAsync(id)).Select(l => $"{l.Stream}: {l.Line}"));
                Assert.Fail($"build {id} never got there; last: {row}\njobs: {jobs}\nlog:\n{log}");
            }
            await Task.Delay(50);
        }
    }

    public Task<BuildRow> WaitForFinalAsync(Guid id, int seconds = 30) =>
        WaitForBuildAsync(id, b => BuildLedger.FinalStatuses.Contains(b.Status), seconds);

    public async Task<List<(string Stream, string Line)>> LogAsync(Guid id)
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        return (await c.QueryAsync<(string, string)>("select stream, line from build_logs where build_job_id = @id order by id", new { id })).ToList();
    }

    public async Task<(string State, string? Result, string Errors, int Attempt)> JobAsync(long id)
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        return await c.QuerySingleAsync<(string, string?, string, int)>("select state, result::text, errors::text, attempt from queue.jobs where id = @id", new { id });
    }

    public async Task<(string State, string Result, string Errors, int Attempt)> WaitForJobAsync(long id, params string[] states)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var job = await JobAsync(id);
            if (states.Contains(job.State)) return job!;
            if (DateTime.UtcNow > deadline) Assert.Fail($"job {id} never reached {string.Join("|", states)}; last: {job}");
            await Task.Delay(50);
        }
    }

    public async Task<T> ScalarAsync<T>(string sql, object? args = null)
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        return (await c.ExecuteScalarAsync<T>(sql, args))!;
    }

    public void Cleanup()
    {
        if (Directory.Exists(Workspace)) Directory.Delete(Workspace, recursive: true);
    }
}
