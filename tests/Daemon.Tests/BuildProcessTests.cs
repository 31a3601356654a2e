using Dapper;
using Jobsd.TestSupport;

namespace Jobsd.Daemon.Tests;

/// <summary>Builds in real jobsd processes: a node killed mid-build, a flood of output, a bad template.</summary>
public sealed class BuildProcessTests : DatabaseTest, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private BuildWorld? _world;

    private BuildWorld World => _world ??= new BuildWorld(Db);

    public void Dispose() => _world?.Cleanup();

    private Dictionary<string, string?> Environment(string script) => new()
    {
        ["JOBSD_ConnectionStrings__Postgres"] = Db.ConnectionString,
        ["JOBSD_Urls"] = "http://127.0.0.1:0",
        ["JOBSD_Partitions__RunAtStart"] = "false",
        ["JOBSD_Queue__NodeTimeout"] = "00:00:03",
        ["JOBSD_Queue__HeartbeatInterval"] = "00:00:00.500",
        ["JOBSD_Queue__RescuerInterval"] = "00:00:00.500",
        ["JOBSD_Queue__LeaderTtl"] = "00:00:03",
        ["JOBSD_Builds__Command__0"] = "/bin/sh",
        ["JOBSD_Builds__Command__1"] = "-c",
        ["JOBSD_Builds__Command__2"] = script,
        ["JOBSD_Builds__Checkout"] = "false",
        ["JOBSD_Builds__Workspace"] = World.Workspace,
    };

    [Fact]
    public async Task A_build_whose_node_is_killed_restarts_cleanly_on_another_node_and_completes()
    {
        await World.SeedAsync();
        var pidFile = Path.Combine(Path.GetTempPath(), $"jobsd-test-{Guid.NewGuid():N}.pid");
        // The first attempt hangs (and records its session id, to clean up after the crash); the rerun builds.
        var script = $"echo \"attempt $JOBSD_ATTEMPT\"; if [ \"$JOBSD_ATTEMPT\" = 1 ]; then echo $$ > {pidFile}; sleep 120; fi; echo built";
        try
        {
            await using var doomed = JobsdProcess.Start(["run"], Environment(script));
            await doomed.WaitForOutputAsync("Engine started", Patience);
            var (build, job) = await World.AddBuildAsync();
            var running = await World.WaitForBuildAsync(build, b => b.Status == "running", 60);
            // Lines reach the table every flush interval; a crash loses at most that much.
            for (var i = 0; i < 200 && !(await World.LogAsync(build)).Any(l => l.Line == "attempt 1"); i++) await Task.Delay(50);
            doomed.Signal("KILL");
            await doomed.WaitForExitAsync(Patience);

            await using var rescuer = JobsdProcess.Start(["run"], Environment(script));
            var row = await World.WaitForFinalAsync(build, 90);
            Assert.Equal("completed", row.Status);
            Assert.NotEqual(running.VmId, row.VmId);
            Assert.Equal(job, row.JobId);
            var log = await World.LogAsync(build);
            var lines = log.Select(l => l.Line).ToList();
            Assert.Contains("attempt 1", lines);
            Assert.Contains("attempt 2", lines);
            Assert.Contains(lines, l => l.StartsWith("[jobsd] build restarted on " + row.VmId, StringComparison.Ordinal));
            Assert.Equal("built", lines.Last(l => !l.StartsWith("[jobsd]")));
            Assert.Equal("completed", await World.ScalarAsync<string>("select status from workflow_runs where id = @id", new { id = World.Run }));
            Assert.Equal(1, await World.ScalarAsync<long>("select count(*) from audit_events where action = 'build.restarted'"));
        }
        finally
        {
            // Under systemd the unit's cgroup dies with the daemon; here the orphaned session is ours to end.
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var session)) Jobs.Builds.ChildProcess.KillGroup(session);
            File.Delete(pidFile);
        }
    }

    [Fact]
    public async Task A_million_lines_of_output_are_all_stored_while_memory_stays_bounded()
    {
        await World.SeedAsync();
        const int Lines = 1_000_000;
        // ~100 bytes a line: 100 MB of output, which as .NET strings held at once would be 200 MB and more.
        var line = new string('x', 90);
        var environment = Environment($"yes '{line}' | head -n {Lines}; echo done");
        environment["JOBSD_Builds__MaxLogBytes"] = "500000000";
        await using var node = JobsdProcess.Start(["run"], environment);
        await node.WaitForOutputAsync("Engine started", Patience);
        await Task.Delay(1000);
        var before = Kilobytes(node.Id, "VmHWM");

        var (build, _) = await World.AddBuildAsync();
        var row = await World.WaitForFinalAsync(build, 240);
        var after = Kilobytes(node.Id, "VmHWM");
        Assert.Equal("completed", row.Status);
        Assert.Equal(Lines + 1, await World.ScalarAsync<long>("select count(*) from build_logs where build_job_id = @build and stream = 'stdout'", new { build }));
        Assert.Equal("done", await World.ScalarAsync<string>("select line from build_logs where build_job_id = @build and stream = 'stdout' order by id desc limit 1", new { build }));
        Assert.True(after - before < 120 * 1024, $"peak RSS grew by {(after - before) / 1024} MB while storing {Lines:N0} lines (from {before / 1024} MB to {after / 1024} MB)");
    }

    [Fact]
    public async Task An_unknown_placeholder_stops_start_up_with_exit_code_78_naming_it()
    {
        var environment = Environment("unused");
        environment["JOBSD_Builds__Command__0"] = "docker";
        environment["JOBSD_Builds__Command__1"] = "--platform=linux/{archtecture}";
        environment.Remove("JOBSD_Builds__Command__2");
        var (code, _, stderr) = await JobsdProcess.RunAsync(["run"], environment);
        Assert.Equal(78, code);
        Assert.Contains("Builds:Command:1", stderr);
        Assert.Contains("unknown placeholder {archtecture}", stderr);
    }

    private static long Kilobytes(int pid, string field)
    {
        foreach (var l in File.ReadLines($"/proc/{pid}/status"))
        {
            if (l.StartsWith(field + ":", StringComparison.Ordinal)) return long.Parse(l[(field.Length + 1)..].Trim().Split(' ')[0]);
        }
        throw new InvalidOperationException($"no {field} for {pid}");
    }
}
