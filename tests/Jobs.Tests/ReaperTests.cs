using Dapper;
using Jobsd.Jobs.Reaping;
using Jobsd.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Jobsd.Jobs.Tests;

/// <summary>The reaper against the real system-of-record tables; "now" is chosen by the test.</summary>
public sealed class ReaperTests : DatabaseTest
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private Reaper Reaper(ReaperSettings? settings = null) => new(Db.DataSource, settings ?? new ReaperSettings(), new Jobsd.Jobs.Builds.BuildSettings(), NullLogger<Reaper>.Instance);

    /// <summary>One row past each threshold and one just inside it, per category.</summary>
    private async Task SeedAsync()
    {
        await using var c = await Db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("""
            insert into teams (id, name) values ('00000000-0000-0000-0000-000000000001', 't');
            insert into projects (id, team_id, name, repo_url) values ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'p', 'https://example.invalid/r.git');
            insert into environments (id, project_id, branch, subdomain_hash, vm_id, status, last_heartbeat_at) values
                ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000002', 'b1', 'h1', 'vm-1', 'ready',     @now - interval '20 minutes'),
                ('00000000-0000-0000-0000-0000000000a2', '00000000-0000-0000-0000-000000000002', 'b2', 'h2', 'vm-2', 'building',  @now - interval '16 minutes'),
                ('00000000-0000-0000-0000-0000000000a3', '00000000-0000-0000-0000-000000000002', 'b3', 'h3', 'vm-3', 'ready',     @now - interval '14 minutes'),
                ('00000000-0000-0000-0000-0000000000a4', '00000000-0000-0000-0000-000000000002', 'b4', 'h4', 'vm-4', 'pending',   @now - interval '2 hours'),
                ('00000000-0000-0000-0000-0000000000a5', '00000000-0000-0000-0000-000000000002', 'b5', 'h5', null,   'deploying', null);
            -- No heartbeat at all: its last update counts (the trigger that stamps updated_at is held off for this).
            alter table environments disable trigger set_updated_at;
            update environments set updated_at = @now - interval '1 hour' where id = '00000000-0000-0000-0000-0000000000a5';
            alter table environments enable trigger set_updated_at;
            insert into agent_connections (environment_id, agent_id, token_hash, status, last_seen_at) values
                ('00000000-0000-0000-0000-0000000000a3', 'old', 'x', 'connected', @now - interval '3 minutes'),
                ('00000000-0000-0000-0000-0000000000a3', 'new', 'y', 'connected', @now - interval '1 minute');
            insert into refresh_tokens (user_id, token_hash, expires_at, revoked_at) values
                (gen_random_uuid(), 'expired-long-ago', @now - interval '2 days', null),
                (gen_random_uuid(), 'expired-recently', @now - interval '2 hours', null),
                (gen_random_uuid(), 'revoked-long-ago', @now + interval '1 day', @now - interval '3 days'),
                (gen_random_uuid(), 'alive', @now + interval '1 day', null);
            insert into workflow_runs (id, environment_id, trigger) values ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a3', 'push');
            insert into build_jobs (id, workflow_run_id, name) values ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000b1', 'web');
            insert into build_logs (build_job_id, logged_at, stream, line)
                select '00000000-0000-0000-0000-0000000000c1', @now - interval '31 days', 'stdout', 'old ' || g from generate_series(1, 50) g;
            insert into build_logs (build_job_id, logged_at, stream, line)
                select '00000000-0000-0000-0000-0000000000c1', @now - interval '29 days', 'stdout', 'kept ' || g from generate_series(1, 5) g;
            """, new { now = Now });
    }

    [Fact]
    public async Task Each_category_reaps_exactly_the_rows_past_their_threshold()
    {
        await SeedAsync();
        var counts = await Reaper().RunAsync(Now, dryRun: false, CancellationToken.None);
        Assert.Equal(new ReapCounts(Environments: 3, Agents: 1, RefreshTokens: 2, BuildLogs: 50), counts);

        await using var c = await Db.DataSource.OpenConnectionAsync();
        var states = (await c.QueryAsync<(string Branch, string Status, bool Terminated)>(
            "select branch, status, terminated_at is not null from environments order by branch")).ToList();
        Assert.Equal([("b1", "reaped", true), ("b2", "reaped", true), ("b3", "ready", false), ("b4", "pending", false), ("b5", "reaped", true)], states);
        Assert.Equal(3, await c.ExecuteScalarAsync<long>("select count(*) from audit_events where action = 'environment.reaped'"));
        Assert.Equal([("old", "disconnected", true), ("new", "connected", false)],
            (await c.QueryAsync<(string, string, bool)>("select agent_id, status, disconnected_at is not null from agent_connections order by last_seen_at")).ToList());
        Assert.Equal(["alive", "expired-recently"], (await c.QueryAsync<string>("select token_hash from refresh_tokens order by token_hash")).ToList());
        Assert.Equal(5, await c.ExecuteScalarAsync<long>("select count(*) from build_logs"));

        var terminates = (await c.QueryAsync<string>("select unique_key from queue.jobs where kind = 'environment.terminate' order by unique_key")).ToList();
        Assert.Equal(["environment.terminate:00000000-0000-0000-0000-0000000000a1", "environment.terminate:00000000-0000-0000-0000-0000000000a2",
                      "environment.terminate:00000000-0000-0000-0000-0000000000a5"], terminates);
        Assert.Equal("vm-1", await c.ExecuteScalarAsync<string>("select args->>'vm_id' from queue.jobs where unique_key like '%a1'"));

        // A second run finds nothing more, and no second terminate job.
        Assert.Equal(0, (await Reaper().RunAsync(Now, dryRun: false, CancellationToken.None)).Total);
        Assert.Equal(3, await c.ExecuteScalarAsync<long>("select count(*) from queue.jobs where kind = 'environment.terminate'"));
    }

    [Fact]
    public async Task Builds_whose_queue_job_ended_or_that_ran_past_the_timeout_are_failed_and_their_runs_roll_up()
    {
        await SeedAsync();
        await using var c = await Db.DataSource.OpenConnectionAsync();
        long Job(string state) => c.ExecuteScalar<long>(
            "insert into queue.jobs (kind, queue, state, attempt, node, finished_at) values ('build', 'builds', @state, 1, case when @state = 'processing' then 'n1' end, case when @state in ('failed', 'deleted') then now() end) returning id",
            new { state });
        var failedJob = Job("failed");
        var processingJob = Job("processing");
        var handedBackJob = Job("enqueued");
        await c.ExecuteAsync("""
            insert into workflow_runs (id, environment_id, trigger, status) values
                ('00000000-0000-0000-0000-0000000000b2', '00000000-0000-0000-0000-0000000000a4', 'push', 'building'),
                ('00000000-0000-0000-0000-0000000000b3', '00000000-0000-0000-0000-0000000000a4', 'push', 'building');
            insert into build_jobs (id, workflow_run_id, name, status, started_at, job_id) values
                ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-0000000000b2', 'lost-job',    'running',      @now - interval '5 minutes', @failed),
                ('00000000-0000-0000-0000-0000000000d2', '00000000-0000-0000-0000-0000000000b2', 'alive',       'running',      @now - interval '5 minutes', @processing),
                ('00000000-0000-0000-0000-0000000000d3', '00000000-0000-0000-0000-0000000000b2', 'handed-back', 'provisioning', @now - interval '5 minutes', @handedBack),
                ('00000000-0000-0000-0000-0000000000d4', '00000000-0000-0000-0000-0000000000b3', 'too-long',    'running',      @now - interval '2 hours 11 minutes', null),
                ('00000000-0000-0000-0000-0000000000d5', '00000000-0000-0000-0000-0000000000b3', 'done',        'completed',    @now - interval '3 hours', null);
            """, new { now = Now, failed = failedJob, processing = processingJob, handedBack = handedBackJob });

        var counts = await Reaper().RunAsync(Now, dryRun: false, CancellationToken.None);
        Assert.Equal(2, counts.AbandonedBuilds);
        var builds = (await c.QueryAsync<(string Name, string Status, string? Error)>("select name, status, error from build_jobs where name <> 'web' order by name")).ToList();
        Assert.Equal(["alive:running", "done:completed", "handed-back:provisioning", "lost-job:failed", "too-long:failed"], builds.Select(b => $"{b.Name}:{b.Status}"));
        Assert.Equal($"abandoned: its queue job {failedJob} is failed but the build was still running", builds.Single(b => b.Name == "lost-job").Error);
        Assert.StartsWith("abandoned: still running after Builds:Timeout plus the reaper's grace", builds.Single(b => b.Name == "too-long").Error);
        // b2 still has a live build; b3 is all final now and ends failed, taking its environment with it.
        Assert.Equal(["building", "failed"], (await c.QueryAsync<string>("select status from workflow_runs where id in ('00000000-0000-0000-0000-0000000000b2', '00000000-0000-0000-0000-0000000000b3') order by id")).ToList());
        Assert.Equal("failed", await c.ExecuteScalarAsync<string>("select status from environments where id = '00000000-0000-0000-0000-0000000000a4'"));
        Assert.Equal(2, await c.ExecuteScalarAsync<long>("select count(*) from audit_events where action = 'build.abandoned'"));
        Assert.Equal(0, (await Reaper().RunAsync(Now, dryRun: false, CancellationToken.None)).AbandonedBuilds);
    }

    [Fact]
    public async Task A_dry_run_counts_the_same_rows_and_touches_nothing()
    {
        await SeedAsync();
        await using var c = await Db.DataSource.OpenConnectionAsync();
        const string snapshot = """
            select (select string_agg(status, ',' order by branch) from environments) || '|' ||
                   (select string_agg(status, ',' order by agent_id) from agent_connections) || '|' ||
                   (select count(*) from refresh_tokens) || '|' || (select count(*) from build_logs) || '|' ||
                   (select count(*) from queue.jobs) || '|' || (select count(*) from audit_events)
            """;
        var before = await c.ExecuteScalarAsync<string>(snapshot);
        var counts = await Reaper().RunAsync(Now, dryRun: true, CancellationToken.None);
        Assert.Equal(new ReapCounts(3, 1, 2, 50), counts);
        Assert.Equal(before, await c.ExecuteScalarAsync<string>(snapshot));
    }

    [Fact]
    public async Task A_batch_smaller_than_the_backlog_still_finishes_and_switched_off_categories_are_left()
    {
        await SeedAsync();
        var settings = new ReaperSettings { BatchSize = 7, ReapEnvironments = false, ReapAgents = false };
        var counts = await Reaper(settings).RunAsync(Now, dryRun: false, CancellationToken.None);
        Assert.Equal(new ReapCounts(0, 0, 2, 50), counts);
        await using var c = await Db.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("select count(*) from environments where status = 'reaped'"));
        Assert.Equal(5, await c.ExecuteScalarAsync<long>("select count(*) from build_logs"));
    }

    [Fact]
    public async Task The_terminate_job_runs_the_configured_command_as_argv_and_fails_on_a_non_zero_exit()
    {
        var dir = Directory.CreateTempSubdirectory("jobsd-terminate-").FullName;
        try
        {
            var script = Path.Combine(dir, "terminate.sh");
            await File.WriteAllTextAsync(script, "#!/bin/sh\nprintf '%s|%s|%s' \"$1\" \"$2\" \"$3\" > \"$4\"\necho done\n");
            if (OperatingSystem.IsLinux()) File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var marker = Path.Combine(dir, "marker");
            var settings = new ReaperSettings { TerminateCommand = [script, "{environment_id}", "{vm_id}", "{subdomain_hash}", marker] };
            var job = new EnvironmentTerminateJob(settings, NullLogger<EnvironmentTerminateJob>.Instance);
            var id = Guid.NewGuid();
            // A value with spaces and shell characters stays one argument: there is no shell.
            await job.ExecuteAsync(new EnvironmentTerminateArgs(id, "vm 1; rm -rf /", "h$x"), Jobsd.Queue.JobContext.Detached(EnvironmentTerminateArgs.Kind), CancellationToken.None);
            Assert.Equal($"{id}|vm 1; rm -rf /|h$x", await File.ReadAllTextAsync(marker));

            var failing = new EnvironmentTerminateJob(new ReaperSettings { TerminateCommand = ["/bin/sh", "-c", "echo gone wrong >&2; exit 3"] },
                NullLogger<EnvironmentTerminateJob>.Instance);
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => failing.ExecuteAsync(new EnvironmentTerminateArgs(id, null, "h"), Jobsd.Queue.JobContext.Detached(EnvironmentTerminateArgs.Kind), CancellationToken.None));
            Assert.Contains("exited with 3: gone wrong", e.Message);

            var slow = new EnvironmentTerminateJob(new ReaperSettings { TerminateCommand = ["/bin/sleep", "30"], TerminateTimeout = TimeSpan.FromMilliseconds(300) },
                NullLogger<EnvironmentTerminateJob>.Instance);
            await Assert.ThrowsAsync<TimeoutException>(() => slow.ExecuteAsync(new EnvironmentTerminateArgs(id, null, "h"), Jobsd.Queue.JobContext.Detached(EnvironmentTerminateArgs.Kind), CancellationToken.None));

            // No command configured: nothing to run, and that is not an error; the result says so.
            var nothing = Jobsd.Queue.JobContext.Detached(EnvironmentTerminateArgs.Kind);
            await new EnvironmentTerminateJob(new ReaperSettings(), NullLogger<EnvironmentTerminateJob>.Instance)
                .ExecuteAsync(new EnvironmentTerminateArgs(id, null, "h"), nothing, CancellationToken.None);
            Assert.Equal("{\"ran\":false,\"why\":\"no Reaper:TerminateCommand is configured\"}", nothing.ResultJson);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
