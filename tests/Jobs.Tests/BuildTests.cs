using System.Diagnostics;
using System.Text.Json;
using Dapper;
using Jobsd.Jobs.Builds;
using Jobsd.TestSupport;

namespace Jobsd.Jobs.Tests;

/// <summary>Builds as real processes against the real system of record: lifecycle, logs, roll-up, cancel, timeout, limits.</summary>
public sealed class BuildTests : DatabaseTest, IDisposable
{
    private BuildWorld _world = null!;

    private BuildWorld World => _world ??= new BuildWorld(Db);

    public void Dispose() => _world?.Cleanup();

    [Fact]
    public async Task A_successful_build_stores_both_streams_in_order_and_completes_its_workflow_run()
    {
        await World.SeedAsync();
        var (build, job) = await World.AddBuildAsync();
        Environment.SetEnvironmentVariable("BUILD_TEST_NOT_ALLOWED", "leak-me");
        await using var node = await World.StartNodeAsync(World.Settings("""
            echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2; echo out-3
            echo "id=$JOBSD_BUILD_JOB_ID arch=$JOBSD_ARCHITECTURE tag=$JOBSD_IMAGE_TAG"
            echo "leak=${{BUILD_TEST_NOT_ALLOWED:-none}}"
            echo ::artifact::https://registry.example/web@sha256:abc
            """));

        var row = await World.WaitForFinalAsync(build);
        Assert.Equal("completed", row.Status);
        Assert.Equal(0, row.ExitCode);
        Assert.Equal("https://registry.example/web@sha256:abc", row.ArtifactUrl);
        Assert.Equal(job, row.JobId);
        Assert.Equal(node.Node, row.VmId);
        Assert.Equal($"jobsd/{World.Project}:{build}", row.ImageTag);

        var log = await World.LogAsync(build);
        Assert.Equal(["out-1", "out-2", "out-3", $"id={build} arch=amd64 tag=jobsd/{World.Project}:{build}", "leak=none", "::artifact::https://registry.example/web@sha256:abc"],
            log.Where(l => l.Stream == "stdout").Select(l => l.Line));
        Assert.Equal(["err-1", "err-2"], log.Where(l => l.Stream == "stderr" && !l.Line.StartsWith("[jobsd]")).Select(l => l.Line));

        var (state, result, _, attempt) = await World.WaitForJobAsync(job, "succeeded");
        Assert.Equal(1, attempt);
        using (var doc = JsonDocument.Parse(result))
        {
            Assert.Equal("completed", doc.RootElement.GetProperty("status").GetString());
            Assert.Equal(0, doc.RootElement.GetProperty("exit_code").GetInt32());
        }
        Assert.Equal("completed", await World.ScalarAsync<string>("select status from workflow_runs where id = @id", new { id = World.Run }));
        Assert.Equal("success", await World.ScalarAsync<string>("select result->>'result' from workflow_runs where id = @id", new { id = World.Run }));
        Assert.True(await World.ScalarAsync<bool>("select completed_at is not null and duration_ms >= 0 from workflow_runs where id = @id", new { id = World.Run }));
        Assert.Equal("deploying", await World.ScalarAsync<string>("select status from environments where id = @id", new { id = World.Environment }));
        var actions = (await Db.DataSource.OpenConnection().QueryAsync<string>("select action from audit_events order by created_at, action")).ToList();
        Assert.Equal(["build.completed", "build.started", "environment.deploying", "workflow_run.completed"], actions.Order());
        Assert.False(Directory.Exists(Path.Combine(World.Workspace, build.ToString())), "the workspace is removed after the build");
    }

    [Fact]
    public async Task A_non_zero_exit_fails_the_build_with_its_stderr_and_is_not_retried()
    {
        await World.SeedAsync();
        var (build, job) = await World.AddBuildAsync();
        await using var node = await World.StartNodeAsync(World.Settings("echo compiling; echo 'error: missing semicolon' >&2; exit 3"));

        var row = await World.WaitForFinalAsync(build);
        Assert.Equal("failed", row.Status);
        Assert.Equal(3, row.ExitCode);
        Assert.Contains("exit code 3", row.Error);
        Assert.Contains("error: missing semicolon", row.Error);
        var (_, _, errors, attempt) = await World.WaitForJobAsync(job, "succeeded");
        Assert.Equal(1, attempt);
        Assert.Equal("[]", errors);
        Assert.Equal("failed", await World.ScalarAsync<string>("select status from workflow_runs where id = @id", new { id = World.Run }));
        Assert.Equal("failed", await World.ScalarAsync<string>("select status from environments where id = @id", new { id = World.Environment }));
    }

    [Fact]
    public async Task The_workflow_run_rolls_up_once_all_three_builds_are_final_and_fails_if_one_failed()
    {
        await World.SeedAsync();
        var (api, _) = await World.AddBuildAsync("api");
        var (web, _) = await World.AddBuildAsync("web");
        var (worker, _) = await World.AddBuildAsync("worker");
        // Each build decides by its name: "web" fails, the others pass; all run at once on 3 workers.
        await using var node = await World.StartNodeAsync(World.Settings("""sleep 0.3; if [ "$JOBSD_NAME" = web ]; then echo broken >&2; exit 1; fi; echo ok"""), workers: 3);

        foreach (var b in new[] { api, web, worker }) await World.WaitForFinalAsync(b);
        await World.WaitForBuildAsync(api, _ => true);
        Assert.Equal("completed", (await World.BuildAsync(api)).Status);
        Assert.Equal("failed", (await World.BuildAsync(web)).Status);
        Assert.Equal("completed", (await World.BuildAsync(worker)).Status);
        await using var c = await Db.DataSource.OpenConnectionAsync();
        var run = await c.QuerySingleAsync<(string Status, string Result, string Error)>(
            "select status, result::text, error from workflow_runs where id = @id", new { id = World.Run });
        Assert.Equal("failed", run.Status);
        using var doc = JsonDocument.Parse(run.Result);
        Assert.Equal("failure", doc.RootElement.GetProperty("result").GetString());
        Assert.Equal(2, doc.RootElement.GetProperty("builds").GetProperty("completed").GetInt32());
        Assert.Equal(1, doc.RootElement.GetProperty("builds").GetProperty("failed").GetInt32());
        Assert.Contains("web", run.Error);
        Assert.Equal(1, await c.ExecuteScalarAsync<long>("select count(*) from audit_events where action like 'workflow_run.%'"));
        Assert.Equal("failed", await c.ExecuteScalarAsync<string>("select status from environments where id = @id", new { id = World.Environment }));
    }

    [Fact]
    public async Task A_checkout_clones_the_project_at_the_environments_commit()
    {
        var repo = Path.Combine(Path.GetTempPath(), "jobsd-test-repo-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Directory.CreateDirectory(repo);
            Git(repo, "init", "--quiet", "--initial-branch=main", "work");
            var work = Path.Combine(repo, "work");
            File.WriteAllText(Path.Combine(work, "version.txt"), "v1\n");
            Git(work, "add", "version.txt");
            Git(work, "commit", "--quiet", "-m", "one");
            var first = Git(work, "rev-parse", "HEAD").Trim();
            File.WriteAllText(Path.Combine(work, "version.txt"), "v2\n");
            Git(work, "commit", "--quiet", "-am", "two");
            Git(repo, "clone", "--quiet", "--bare", "work", "origin.git");

            await World.SeedAsync(repoUrl: Path.Combine(repo, "origin.git"), commit: first);
            var (build, _) = await World.AddBuildAsync();
            var settings = World.Settings("echo \"at $(git rev-parse HEAD)\"; cat version.txt; pwd");
            settings.Checkout = true;
            await using var node = await World.StartNodeAsync(settings);

            var row = await World.WaitForFinalAsync(build);
            var log = await World.LogAsync(build);
            Assert.True(row.Status == "completed", $"{row}\n{string.Join('\n', log)}");
            var stdout = log.Where(l => l.Stream == "stdout").Select(l => l.Line).ToList();
            Assert.Contains($"at {first}", stdout);
            Assert.Contains("v1", stdout);
            Assert.DoesNotContain("v2", stdout);
            Assert.Contains(Path.Combine(World.Workspace, build.ToString(), "src"), stdout);
        }
        finally
        {
            Directory.Delete(repo, recursive: true);
        }
    }

    [Fact]
    public async Task A_checkout_that_fails_is_retried_and_after_the_last_attempt_the_build_fails()
    {
        await World.SeedAsync(repoUrl: "/nonexistent/repo.git", commit: "abc1234");
        var settings = World.Settings("echo never");
        settings.Checkout = true;
        settings.MaxAttempts = 2;
        await using var node = await World.StartNodeAsync(settings);
        var (build, job) = await World.AddBuildAsync();

        // The retry schedule waits 15 s and more between attempts: bring the retry forward.
        await World.WaitForJobAsync(job, "scheduled", "failed");
        await World.ScalarAsync<long>("update queue.jobs set scheduled_at = now() where id = @job and state = 'scheduled' returning id", new { job });
        var row = await World.WaitForFinalAsync(build);
        Assert.Equal("failed", row.Status);
        Assert.Contains("git clone failed", row.Error);
        var (state, _, errors, attempt) = await World.WaitForJobAsync(job, "failed");
        Assert.Equal(2, attempt);
        Assert.Contains("git clone failed", errors);
        Assert.Contains("could not run the build", (await World.LogAsync(build)).Last(l => l.Line.StartsWith("[jobsd]")).Line);
    }

    [Fact]
    public async Task The_timeout_kills_the_whole_tree_including_a_grandchild()
    {
        await World.SeedAsync();
        var (build, _) = await World.AddBuildAsync();
        var pidFile = Path.Combine(Path.GetTempPath(), $"jobsd-test-{Guid.NewGuid():N}.pid");
        var settings = World.Settings($"sleep 300 & echo $! > {pidFile}; echo started; wait");
        settings.Timeout = TimeSpan.FromSeconds(2);
        await using var node = await World.StartNodeAsync(settings);

        var row = await World.WaitForFinalAsync(build);
        Assert.Equal("failed", row.Status);
        Assert.StartsWith("timed out after 00:00:02", row.Error);
        var pid = int.Parse(File.ReadAllText(pidFile).Trim());
        File.Delete(pidFile);
        Assert.True(await GoneAsync(pid), $"grandchild sleep {pid} survived the build's timeout");
        Assert.Contains("timed out", (await World.LogAsync(build)).Last().Line);
    }

    [Fact]
    public async Task Another_system_setting_the_status_to_cancelled_stops_the_build_within_seconds()
    {
        await World.SeedAsync();
        var (build, job) = await World.AddBuildAsync();
        var pidFile = Path.Combine(Path.GetTempPath(), $"jobsd-test-{Guid.NewGuid():N}.pid");
        await using var node = await World.StartNodeAsync(World.Settings($"sleep 300 & echo $! > {pidFile}; echo started; wait"));
        await World.WaitForBuildAsync(build, b => b.Status == "running");
        await WaitForFileAsync(pidFile);

        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            await c.ExecuteAsync("update build_jobs set status = 'cancelled', completed_at = now() where id = @build", new { build });
        }
        var (state, result, _, _) = await World.WaitForJobAsync(job, "succeeded", "failed", "deleted");
        Assert.Equal("succeeded", state);
        Assert.Contains("cancelled", result);
        Assert.Equal("cancelled", (await World.BuildAsync(build)).Status);
        Assert.True(await GoneAsync(int.Parse(File.ReadAllText(pidFile).Trim())), "the build's processes outlived its cancel");
        File.Delete(pidFile);
        Assert.Equal("cancelled", await World.ScalarAsync<string>("select status from workflow_runs where id = @id", new { id = World.Run }));
    }

    [Fact]
    public async Task An_operators_cancel_kills_the_build_and_records_it_cancelled()
    {
        await World.SeedAsync();
        var (build, job) = await World.AddBuildAsync();
        await using var node = await World.StartNodeAsync(World.Settings("echo started; sleep 300"));
        await World.WaitForBuildAsync(build, b => b.Status == "running");

        await node.Client.CancelAsync(job, "stop that build");
        var row = await World.WaitForFinalAsync(build, seconds: 10);
        Assert.Equal("cancelled", row.Status);
        Assert.Equal("cancelled by an operator", row.Error);
        var (state, _, _, _) = await World.WaitForJobAsync(job, "deleted");
        Assert.Equal("deleted", state);
    }

    [Fact]
    public async Task Long_lines_invalid_utf8_and_nul_bytes_are_stored_safely()
    {
        await World.SeedAsync();
        var (build, _) = await World.AddBuildAsync();
        var settings = World.Settings("""
            head -c 5000 /dev/zero | tr '\0' 'x'; echo
            printf 'bad \377\376 bytes\n'
            printf 'nul\000byte\n'
            printf 'crlf line\r\n'
            printf 'no newline at the end'
            """);
        settings.MaxLineLength = 1000;
        await using var node = await World.StartNodeAsync(settings);

        Assert.Equal("completed", (await World.WaitForFinalAsync(build)).Status);
        var stdout = (await World.LogAsync(build)).Where(l => l.Stream == "stdout").Select(l => l.Line).ToList();
        Assert.Equal(5, stdout.Count);
        Assert.StartsWith(new string('x', 1000) + " … [jobsd: line cut, 4000 more bytes]", stdout[0]);
        Assert.Equal("bad \uFFFD\uFFFD bytes", stdout[1]);
        Assert.Equal("nulbyte", stdout[2]);
        Assert.Equal("crlf line", stdout[3]);
        Assert.Equal("no newline at the end", stdout[4]);
    }

    [Fact]
    public async Task Past_the_log_cap_lines_are_dropped_and_counted_in_one_marker()
    {
        await World.SeedAsync();
        var (build, _) = await World.AddBuildAsync();
        var settings = World.Settings("seq 1 5000");
        settings.MaxLogBytes = 2000;
        await using var node = await World.StartNodeAsync(settings);

        Assert.Equal("completed", (await World.WaitForFinalAsync(build)).Status);
        var log = await World.LogAsync(build);
        var kept = log.Where(l => l.Stream == "stdout").ToList();
        Assert.InRange(kept.Sum(l => l.Line.Length + 1), 1, 2000);
        var marker = Assert.Single(log, l => l.Line.Contains("not stored"));
        Assert.Contains($"{5000 - kept.Count} more lines", marker.Line);
    }

    [Fact]
    public async Task A_team_at_its_limit_waits_without_failing_or_spending_attempts()
    {
        await World.SeedAsync(maxConcurrentBuilds: 1);
        var (first, firstJob) = await World.AddBuildAsync("one");
        var (second, secondJob) = await World.AddBuildAsync("two");
        await using var node = await World.StartNodeAsync(World.Settings("sleep 1; echo done"), workers: 2);

        var a = await World.WaitForFinalAsync(first);
        var b = await World.WaitForFinalAsync(second);
        Assert.Equal("completed", a.Status);
        Assert.Equal("completed", b.Status);
        var (earlier, later) = a.StartedAt < b.StartedAt ? (a, b) : (b, a);
        Assert.True(later.StartedAt >= earlier.CompletedAt, $"builds overlapped: {earlier} / {later}");
        Assert.Equal(1, (await World.WaitForJobAsync(firstJob, "succeeded")).Attempt);
        Assert.Equal(1, (await World.WaitForJobAsync(secondJob, "succeeded")).Attempt);
    }

    [Fact]
    public async Task A_build_job_that_does_not_exist_fails_the_job_permanently_naming_the_id()
    {
        await World.SeedAsync();
        var missing = Guid.NewGuid();
        var job = await World.ScalarAsync<long>("select queue.enqueue('build', jsonb_build_object('build_job_id', @missing::uuid), queue => 'builds')", new { missing });
        await using var node = await World.StartNodeAsync(World.Settings("echo hi"));
        var (_, _, errors, attempt) = await World.WaitForJobAsync(job, "failed");
        Assert.Equal(1, attempt);
        Assert.Contains($"build job {missing} does not exist", errors);
    }

    [Fact]
    public async Task A_second_job_for_a_build_that_is_running_does_not_run_it_twice_and_a_final_build_is_a_no_op()
    {
        await World.SeedAsync();
        var (build, first) = await World.AddBuildAsync();
        await using var node = await World.StartNodeAsync(World.Settings("echo run-marker; sleep 2"));
        await World.WaitForBuildAsync(build, b => b.Status == "running");
        var second = await World.ScalarAsync<long>("select queue.enqueue('build', jsonb_build_object('build_job_id', @build), queue => 'builds')", new { build });
        var (_, result, _, _) = await World.WaitForJobAsync(second, "succeeded");
        Assert.Contains("not running it twice", result);
        Assert.Equal("completed", (await World.WaitForFinalAsync(build)).Status);

        var third = await World.ScalarAsync<long>("select queue.enqueue('build', jsonb_build_object('build_job_id', @build), queue => 'builds')", new { build });
        var (_, thirdResult, _, _) = await World.WaitForJobAsync(third, "succeeded");
        Assert.Contains("already completed", thirdResult);
        Assert.Single(await World.LogAsync(build), l => l.Line == "run-marker");
    }

    [Fact]
    public async Task A_path_outside_the_checkout_fails_the_build_and_the_job_naming_it()
    {
        await World.SeedAsync();
        var (build, job) = await World.AddBuildAsync(contextPath: "../../etc");
        await using var node = await World.StartNodeAsync(World.Settings("echo never"));
        var row = await World.WaitForFinalAsync(build);
        Assert.Equal("failed", row.Status);
        Assert.Contains("context_path '../../etc' must be a relative path", row.Error);
        var (_, _, errors, attempt) = await World.WaitForJobAsync(job, "failed");
        Assert.Equal(1, attempt);
        Assert.Contains("context_path", errors);
    }

    [Fact]
    public async Task A_field_that_would_become_an_option_is_refused()
    {
        await World.SeedAsync();
        var (build, _) = await World.AddBuildAsync();
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            await c.ExecuteAsync("update build_jobs set image_tag = '--output=/etc' where id = @build", new { build });
        }
        var settings = World.Settings("unused");
        settings.Command = ["/bin/echo", "-t", "{image_tag}"];
        await using var node = await World.StartNodeAsync(settings);
        var row = await World.WaitForFinalAsync(build);
        Assert.Equal("failed", row.Status);
        Assert.Contains("starts with '-'", row.Error);
    }

    [Fact]
    public async Task The_schema_rejects_an_unknown_architecture()
    {
        await World.SeedAsync();
        var e = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => World.ScalarAsync<Guid>(
            "insert into build_jobs (workflow_run_id, name, architecture) values (@run, 'x', 'sparc') returning id", new { run = World.Run }));
        Assert.Equal("build_jobs_architecture_check", e.ConstraintName);
    }

    [Fact]
    public void Templates_name_an_unknown_placeholder_and_refuse_option_injection()
    {
        Assert.Contains("unknown placeholder {archtecture}", BuildTemplate.Check("linux/{archtecture}"));
        Assert.Null(BuildTemplate.Check("linux/{architecture} {{literal}}"));
        Assert.Contains("unclosed", BuildTemplate.Check("{name"));
        var problems = new BuildSettings { Command = ["docker", "-t", "{imagetag}"] }.Validate().ToList();
        Assert.Contains(problems, p => p.StartsWith("Builds:Command:2: ") && p.Contains("{imagetag}"));
        Assert.Contains(new BuildSettings { Environment = ["ConnectionStrings__Postgres"] }.Validate(), p => p.Contains("never passed to builds"));
        Assert.Equal("a-b", BuildTemplate.ExpandArgument("{name}", new Dictionary<string, string> { ["name"] = "a-b" }));
        Assert.Equal("x=-y", BuildTemplate.ExpandArgument("x={name}", new Dictionary<string, string> { ["name"] = "-y" }));
        Assert.Throws<BuildInputException>(() => BuildTemplate.ExpandArgument("{name}", new Dictionary<string, string> { ["name"] = "-rf" }));
    }

    private static string Git(string directory, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["GIT_AUTHOR_NAME"] = psi.Environment["GIT_COMMITTER_NAME"] = "test";
        psi.Environment["GIT_AUTHOR_EMAIL"] = psi.Environment["GIT_COMMITTER_EMAIL"] = "test@example.invalid";
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"git {string.Join(' ', args)}: {error}");
        return output;
    }

    /// <summary>Dead: no /proc entry, or a zombie waiting for its (new) parent to reap it.</summary>
    internal static async Task<bool> GoneAsync(int pid)
    {
        for (var i = 0; i < 50; i++)
        {
            var stat = $"/proc/{pid}/stat";
            if (!File.Exists(stat)) return true;
            try
            {
                var text = File.ReadAllText(stat);
                if (text[(text.LastIndexOf(')') + 2)] is 'Z' or 'X') return true;
            }
            catch (IOException)
            {
                return true;
            }
            await Task.Delay(100);
        }
        return false;
    }

    private static async Task WaitForFileAsync(string path)
    {
        for (var i = 0; i < 100 && !(File.Exists(path) && File.ReadAllText(path).Trim().Length > 0); i++) await Task.Delay(50);
    }
}
