using Dapper;
using Jobsd.TestSupport;

namespace Jobsd.Daemon.Tests;

/// <summary>Recurring jobs through real jobsd processes: configuration, start-up checks, the CLI.</summary>
public sealed class RecurringProcessTests : DatabaseTest
{
    private Dictionary<string, string?> Environment(params (string Key, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?>
        {
            ["JOBSD_ConnectionStrings__Postgres"] = Db.ConnectionString,
            ["JOBSD_Urls"] = "http://127.0.0.1:0",
        };
        foreach (var (key, value) in settings) environment[key] = value;
        return environment;
    }

    [Fact]
    public async Task A_configured_every_second_job_runs_on_a_real_node_and_the_cli_lists_and_steers_it()
    {
        await using (var jobsd = JobsdProcess.Start(["run"], Environment(
            ("JOBSD_Recurring__heartbeat__Cron", "* * * * * *"),
            ("JOBSD_Recurring__heartbeat__Kind", "noop"),
            ("JOBSD_Recurring__heartbeat__Args__sleep_ms", "1"),
            ("JOBSD_Recurring__heartbeat__TimeZone", "Europe/Berlin"),
            ("JOBSD_Recurring__heartbeat__Overlap", "skip"))))
        {
            await jobsd.WaitForOutputAsync("Recurring jobs synchronised", TimeSpan.FromSeconds(60));
            await using var c = await Db.DataSource.OpenConnectionAsync();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (await c.ExecuteScalarAsync<long>("select count(*) from queue.jobs where 'recurring:heartbeat' = any(tags) and state = 'succeeded'") < 3)
            {
                Assert.True(DateTime.UtcNow < deadline, "the recurring job did not run three times within a minute");
                await Task.Delay(100);
            }
            Assert.Equal("{\"sleep_ms\": 1, \"fail_attempts\": 0}", await c.ExecuteScalarAsync<string>("select args::text from queue.recurring where name = 'heartbeat'"));
            Assert.Equal("config", await c.ExecuteScalarAsync<string>("select source from queue.recurring where name = 'heartbeat'"));

            var env = Environment();
            var list = await JobsdProcess.RunAsync(["recurring", "list"], env);
            Assert.Equal(0, list.ExitCode);
            Assert.Matches(@"heartbeat\s+\* \* \* \* \* \*\s+Europe/Berlin\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00", list.Stdout);
            Assert.Contains("active", list.Stdout);

            Assert.Equal(0, (await JobsdProcess.RunAsync(["recurring", "pause", "heartbeat"], env)).ExitCode);
            Assert.Contains("paused", (await JobsdProcess.RunAsync(["recurring", "list"], env)).Stdout);
            var trigger = await JobsdProcess.RunAsync(["recurring", "trigger", "heartbeat"], env);
            Assert.Matches(@"recurring job heartbeat: triggered: job \d+", trigger.Stdout);
            Assert.Equal(0, (await JobsdProcess.RunAsync(["recurring", "resume", "heartbeat"], env)).ExitCode);
            var missing = await JobsdProcess.RunAsync(["recurring", "pause", "nosuch"], env);
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("recurring job nosuch: not found", missing.Stderr);
        }

        // Configured no more: the next start removes it.
        await using var again = JobsdProcess.Start(["run"], Environment());
        await again.WaitForOutputAsync("Recurring jobs synchronised", TimeSpan.FromSeconds(60));
        await using var check = await Db.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await check.ExecuteScalarAsync<long>("select count(*) from queue.recurring where source = 'config'"));
    }

    [Theory]
    [InlineData("Cron", "0 0 30 2 *", "recurring job 'nightly': cron '0 0 30 2 *': can never fire")]
    [InlineData("Cron", "61 * * * *", "recurring job 'nightly': cron '61 * * * *': minute value 61 is out of range 0-59")]
    [InlineData("TimeZone", "Europe/Berln", "recurring job 'nightly': unknown time zone 'Europe/Berln'")]
    [InlineData("Kind", "nosuch", "recurring job 'nightly': unknown kind 'nosuch'; this node runs: audit-partitions, build, environment.terminate, noop, reap, secrets.reencrypt, token-refresh, token.refresh")]
    [InlineData("Args__sleep_ms", "soon", "recurring job 'nightly': args of kind 'noop' do not bind")]
    [InlineData("Args__slep_ms", "5", "recurring job 'nightly': args of kind 'noop' do not bind")]
    [InlineData("Misfire", "sometimes", "Recurring:nightly:Misfire: 'sometimes' is not one of once, all, skip")]
    [InlineData("Crn", "0 3 * * *", "Recurring:nightly:Crn: unknown setting (did you mean 'Cron'?)")]
    public async Task A_bad_configured_recurring_job_stops_start_up_with_78_naming_the_job(string key, string value, string expected)
    {
        var environment = Environment(("JOBSD_Recurring__nightly__Cron", "0 3 * * *"), ("JOBSD_Recurring__nightly__Kind", "noop"));
        environment["JOBSD_Recurring__nightly__" + key] = value;
        var (code, _, stderr) = await JobsdProcess.RunAsync(["run"], environment);
        Assert.Equal(78, code);
        Assert.Contains(expected, stderr);
        await using var c = await Db.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("select count(*) from queue.recurring"));
    }

    [Fact]
    public async Task Recurring_next_prints_fire_times_with_their_offset_across_a_dst_change()
    {
        var (code, stdout, _) = await JobsdProcess.RunAsync(["recurring", "next", "30 2 * * *", "--tz", "Europe/Berlin", "--from", "2026-03-28T12:00:00Z", "--count", "3"]);
        Assert.Equal(0, code);
        Assert.Equal(["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"], stdout.Trim().Split('\n'));
        var macro = await JobsdProcess.RunAsync(["recurring", "next", "@monthly", "--from", "2026-01-15T00:00:00Z", "--count", "1"]);
        Assert.Equal("2026-02-01T00:00:00+00:00", macro.Stdout.Trim());
        var bad = await JobsdProcess.RunAsync(["recurring", "next", "0 0 30 2 *"]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("cron '0 0 30 2 *': can never fire", bad.Stderr);
    }

    [Fact]
    public async Task Recurring_set_defines_a_job_and_refuses_bad_input_with_the_same_messages_as_configuration()
    {
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            await c.ExecuteAsync("insert into queue.kinds (kind, queue, max_attempts, node) values ('noop', 'default', 10, 'n')");
        }
        var env = Environment();
        var badCron = await JobsdProcess.RunAsync(["recurring", "set", "nightly", "0 0 30 2 *", "noop"], env);
        Assert.Equal(2, badCron.ExitCode);
        Assert.Contains("recurring job 'nightly': cron '0 0 30 2 *': can never fire", badCron.Stderr);
        var badKind = await JobsdProcess.RunAsync(["recurring", "set", "nightly", "@daily", "nosuch"], env);
        Assert.Contains("recurring job 'nightly': unknown kind 'nosuch'; known kinds: noop", badKind.Stderr);
        var badZone = await JobsdProcess.RunAsync(["recurring", "set", "nightly", "@daily", "noop", "--tz", "Nowhere/Land"], env);
        Assert.Contains("unknown time zone 'Nowhere/Land'", badZone.Stderr);
        var badPolicy = await JobsdProcess.RunAsync(["recurring", "set", "nightly", "@daily", "noop", "--misfire", "later"], env);
        Assert.Contains("--misfire: 'later' is not one of once, all, skip", badPolicy.Stderr);
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            Assert.Equal(0, await c.ExecuteScalarAsync<long>("select count(*) from queue.recurring"));
        }

        var set = await JobsdProcess.RunAsync(["recurring", "set", "nightly", "30 2 * * *", "noop", "--tz", "America/New_York", "--args", "{\"sleep_ms\": 5}", "--overlap", "skip"], env);
        Assert.Equal(0, set.ExitCode);
        Assert.Matches(@"recurring job nightly: set; next run \d{4}-\d\d-\d\dT02:30:00-0[45]:00", set.Stdout);
        await using var check = await Db.DataSource.OpenConnectionAsync();
        var row = await check.QuerySingleAsync<(string Source, string Overlap, string Args)>("select source, overlap, args::text from queue.recurring where name = 'nightly'");
        Assert.Equal(("api", "skip", "{\"sleep_ms\": 5}"), row);
    }

    [Fact]
    public async Task A_starting_node_keeps_audit_partitions_at_once_and_schedules_the_keeper_daily()
    {
        await using var jobsd = JobsdProcess.Start(["run"], Environment());
        await using var c = await Db.DataSource.OpenConnectionAsync();
        var partition = $"audit_events_{DateTime.UtcNow:yyyy}_{DateTime.UtcNow:MM}";
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await c.ExecuteScalarAsync<bool>("select to_regclass(@partition) is not null", new { partition }))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{partition} was not created within a minute.\n{jobsd.Stdout}\n{jobsd.Stderr}");
            await Task.Delay(200);
        }
        var next = DateTime.UtcNow.AddMonths(4);
        Assert.True(await c.ExecuteScalarAsync<bool>("select to_regclass(@p) is not null", new { p = $"audit_events_{next:yyyy}_{next:MM}" }));
        var row = await c.QuerySingleAsync<(string Cron, string Queue, string Overlap, string Source)>(
            "select cron, queue, overlap, source from queue.recurring where name = 'audit-partitions'");
        Assert.Equal(("0 3 * * *", "maintenance", "skip", "code"), row);
        // The partitions commit inside the job; its outcome is recorded a moment later.
        string? state;
        while ((state = await c.ExecuteScalarAsync<string>("select state from queue.jobs where unique_key = 'audit-partitions:start'")) != "succeeded" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal("succeeded", state);
    }
}
