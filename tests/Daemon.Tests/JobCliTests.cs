using Dapper;
using Jobsd.TestSupport;

namespace Jobsd.Daemon.Tests;

public sealed class JobCliTests : DatabaseTest
{
    private Task<(int ExitCode, string Stdout, string Stderr)> Jobsd(params string[] args) =>
        JobsdProcess.RunAsync(args, new Dictionary<string, string?> { ["JOBSD_ConnectionStrings__Postgres"] = Db.ConnectionString });

    [Fact]
    public async Task Enqueue_list_show_and_delete_a_job_from_the_command_line()
    {
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            await c.ExecuteAsync("insert into queue.kinds (kind, queue, max_attempts, node) values ('noop', 'default', 10, 'test')");
        }
        var enqueued = await Jobsd("enqueue", "noop", "--args", "{\"sleep_ms\": 5}", "--in", "1h", "--priority", "2", "--unique-key", "nightly");
        Assert.Equal(0, enqueued.ExitCode);
        Assert.Matches(@"^enqueued job (\d+) to run at ", enqueued.Stdout);
        var id = long.Parse(System.Text.RegularExpressions.Regex.Match(enqueued.Stdout, @"job (\d+)").Groups[1].Value);

        var again = await Jobsd("enqueue", "noop", "--unique-key", "nightly");
        Assert.Equal($"job {id} already exists with unique key 'nightly'", again.Stdout.Trim());

        var list = await Jobsd("jobs", "list", "--state", "scheduled");
        Assert.Equal(0, list.ExitCode);
        Assert.Matches($@"\s{id}\s+scheduled\s+default\s+noop\s+0/10", list.Stdout);

        var show = await Jobsd("jobs", "show", id.ToString());
        Assert.Contains("\"sleep_ms\": 5", show.Stdout);
        Assert.Contains("unique key:   nightly", show.Stdout);
        Assert.Contains("priority:     2", show.Stdout);

        Assert.Equal(0, (await Jobsd("jobs", "delete", id.ToString())).ExitCode);
        Assert.Contains("state:        deleted (deleted from the command line)", (await Jobsd("jobs", "show", id.ToString())).Stdout);
        var retryUnknown = await Jobsd("jobs", "retry", "999999");
        Assert.Equal(1, retryUnknown.ExitCode);
        Assert.Contains("job 999999: not found", retryUnknown.Stderr);
    }

    [Theory]
    [InlineData(new[] { "enqueue", "noop", "--args", "{broken" }, 2, "--args: not valid JSON")]
    [InlineData(new[] { "enqueue", "noop", "--args", "[1,2]" }, 2, "--args: must be a JSON object, got array")]
    [InlineData(new[] { "enqueue", "noop", "--in", "soon" }, 2, "--in: 'soon' is not a duration")]
    [InlineData(new[] { "enqueue", "noop", "--at", "tomorrow" }, 2, "--at: 'tomorrow' is not a time")]
    [InlineData(new[] { "enqueue", "nope" }, 1, "unknown kind \"nope\"; known kinds: (none: no node has started yet)")]
    [InlineData(new[] { "jobs", "list", "--state", "done" }, 2, "unknown state 'done'")]
    [InlineData(new[] { "queues", "pause", "Bad Name" }, 2, "'Bad Name' is not a queue name")]
    public async Task Bad_input_is_refused_with_a_message_naming_the_problem_and_nothing_is_enqueued(string[] args, int exitCode, string message)
    {
        var result = await Jobsd(args);
        Assert.Equal(exitCode, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        await using var c = await Db.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("select count(*) from queue.jobs"));
    }

    [Fact]
    public async Task Queues_can_be_paused_and_resumed_and_listed()
    {
        Assert.Equal(0, (await Jobsd("queues", "pause", "builds")).ExitCode);
        var list = await Jobsd("queues", "list");
        Assert.Matches(@"builds\s+yes", list.Stdout);
        Assert.Equal(0, (await Jobsd("queues", "resume", "builds")).ExitCode);
        Assert.Matches(@"builds\s+no", (await Jobsd("queues", "list")).Stdout);
    }

    [Fact]
    public async Task Reap_dry_run_prints_what_would_be_reaped_and_changes_nothing()
    {
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            await c.ExecuteAsync("""
                insert into refresh_tokens (user_id, token_hash, expires_at) values (gen_random_uuid(), 'old', now() - interval '3 days'), (gen_random_uuid(), 'alive', now() + interval '1 day');
                """);
        }
        var dry = await Jobsd("reap", "--dry-run");
        Assert.Equal(0, dry.ExitCode);
        Assert.Contains("would reap (dry run, nothing changed):", dry.Stdout);
        Assert.Matches(@"refresh tokens\s+1", dry.Stdout);
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            Assert.Equal(2, await c.ExecuteScalarAsync<long>("select count(*) from refresh_tokens"));
        }
        var real = await Jobsd("reap");
        Assert.Matches(@"refresh tokens\s+1", real.Stdout);
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            Assert.Equal("alive", await c.ExecuteScalarAsync<string>("select string_agg(token_hash, ',') from refresh_tokens"));
        }
    }
}
