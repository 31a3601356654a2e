using System.Text.Json;
using Dapper;
using Jobsd.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Jobsd.Queue.Tests;

public sealed class EngineTests : DatabaseTest
{
    [Fact]
    public async Task An_enqueued_job_runs_once_and_succeeds()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var (id, existing) = await engine.Client.EnqueueAsync(new TestArgs("once"));
        Assert.False(existing);

        var row = await Db.WaitForStateAsync(id, "succeeded");
        Assert.Equal(1, row.Attempt);
        Assert.Equal(engine.Node, row.Node);
        Assert.Equal(1, await Db.ScalarAsync("select count(*) from test_runs where key = 'once'"));
        Assert.Equal(1, await Db.ScalarAsync("select coalesce(sum(succeeded), 0) from queue.stats where kind = 'test'"));
    }

    [Fact]
    public async Task A_job_enqueued_from_sql_in_a_rolled_back_transaction_never_exists()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            await using var tx = await c.BeginTransactionAsync();
            await c.ExecuteAsync("select queue.enqueue('test', '{\"key\": \"rolled-back\"}')", transaction: tx);
            await engine.Client.EnqueueAsync(new TestArgs("rolled-back-too"), null, c, tx);
            await tx.RollbackAsync();
        }
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            await using var tx = await c.BeginTransactionAsync();
            await c.ExecuteAsync("select queue.enqueue(kind => 'test', args => '{\"key\": \"committed\"}', priority => 3)", transaction: tx);
            await tx.CommitAsync();
        }
        var committed = await Db.ScalarAsync("select id from queue.jobs where args->>'key' = 'committed'");
        await Db.WaitForStateAsync(committed, "succeeded");
        Assert.Equal(1, await Db.ScalarAsync("select count(*) from queue.jobs"));
    }

    [Fact]
    public async Task A_unique_key_returns_the_active_job_and_is_free_again_once_it_finished()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var first = await engine.Client.EnqueueAsync(new TestArgs("unique", SleepMs: 300), new EnqueueOptions { UniqueKey = "k1" });
        var second = await engine.Client.EnqueueAsync(new TestArgs("unique"), new EnqueueOptions { UniqueKey = "k1" });
        Assert.Equal(first.Id, second.Id);
        Assert.True(second.Existing);
        var fromSql = await Db.ScalarAsync("select queue.enqueue('test', '{\"key\": \"unique\"}', unique_key => 'k1')");
        Assert.Equal(first.Id, fromSql);

        await Db.WaitForStateAsync(first.Id, "succeeded");
        var third = await engine.Client.EnqueueAsync(new TestArgs("unique"), new EnqueueOptions { UniqueKey = "k1" });
        Assert.False(third.Existing);
        Assert.NotEqual(first.Id, third.Id);
    }

    [Fact]
    public async Task Retries_after_failures_then_succeeds_with_one_error_per_failed_attempt()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var (id, _) = await engine.Client.EnqueueAsync(new TestArgs("flaky", FailAttempts: 2));
        var row = await Db.WaitForStateAsync(id, "succeeded");

        Assert.Equal(3, row.Attempt);
        using var errors = JsonDocument.Parse(row.Errors);
        Assert.Equal([1, 2], errors.RootElement.EnumerateArray().Select(e => e.GetProperty("attempt").GetInt32()).ToList());
        Assert.All(errors.RootElement.EnumerateArray(), e =>
        {
            Assert.Equal("System.InvalidOperationException", e.GetProperty("type").GetString());
            Assert.Contains("failure", e.GetProperty("message").GetString());
            Assert.Contains("TestJob.ExecuteAsync", e.GetProperty("stack").GetString());
        });
    }

    [Fact]
    public async Task Log_lines_written_while_a_job_runs_carry_its_id_kind_and_attempt()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var (id, _) = await engine.Client.EnqueueAsync(new TestArgs("logged", FailAttempts: 1));
        await Db.WaitForStateAsync(id, "succeeded");

        var retry = Assert.Single(engine.Logs.Entries, e => e.Message.Contains($"Job {id} (test) attempt 1/10 failed", StringComparison.Ordinal));
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, retry.Level);
        Assert.Equal(id, retry.Scope["JobId"]);
        Assert.Equal("test", retry.Scope["Kind"]);
        Assert.Equal(1, retry.Scope["Attempt"]);
    }

    [Fact]
    public async Task Exhausting_the_attempts_ends_failed_with_every_error_kept()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var (id, _) = await engine.Client.EnqueueAsync(new TestArgs("doomed", FailAttempts: 99), new EnqueueOptions { MaxAttempts = 3 });
        var row = await Db.WaitForStateAsync(id, "failed");
        Assert.Equal(3, row.Attempt);
        Assert.Equal(3, JsonDocument.Parse(row.Errors).RootElement.GetArrayLength());
        Assert.Equal(3, await Db.ScalarAsync("select count(*) from test_runs where key = 'doomed'"));
        Assert.Equal(1, await Db.ScalarAsync("select coalesce(sum(failed), 0) from queue.stats where kind = 'test'"));
    }

    [Fact]
    public async Task A_permanent_error_fails_at_once()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var (id, _) = await engine.Client.EnqueueAsync(new TestArgs("permanent", FailAttempts: 1, Permanent: true));
        var row = await Db.WaitForStateAsync(id, "failed");
        Assert.Equal(1, row.Attempt);
        Assert.Contains("permanent failure of permanent", row.Errors);
    }

    [Theory]
    [InlineData("{\"kee\": \"typo\"}", "kee")]
    [InlineData("{\"key\": 42}", "$.key")]
    [InlineData("{\"sleep_ms\": 5}", "key")]
    public async Task Args_that_do_not_bind_fail_permanently_naming_the_field(string args, string named)
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var id = await Db.ScalarAsync("select queue.enqueue('test', @args::jsonb)", new { args });
        var row = await Db.WaitForStateAsync(id, "failed");
        Assert.Equal(1, row.Attempt);
        var message = JsonDocument.Parse(row.Errors).RootElement[0].GetProperty("message").GetString()!;
        Assert.Contains("args of kind 'test' do not bind to TestArgs", message);
        Assert.Contains(named, message);
        Assert.Equal(0, await Db.ScalarAsync("select count(*) from test_runs"));
    }

    [Fact]
    public async Task A_kind_this_node_does_not_know_fails_naming_the_kinds_it_knows()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var id = await Db.ScalarAsync("select queue.enqueue('mystery', allow_unknown => true)");
        var row = await Db.WaitForStateAsync(id, "failed");
        Assert.Contains("no handler for kind 'mystery'", row.Errors);
        Assert.Contains("noop, test", row.Errors);
    }

    [Fact]
    public async Task Queue_enqueue_rejects_bad_input_with_clear_errors()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        async Task<string> Error(string sql)
        {
            var e = await Assert.ThrowsAsync<PostgresException>(() => Db.ScalarAsync(sql));
            Assert.Equal("22023", e.SqlState);
            return e.MessageText;
        }
        Assert.Contains("unknown kind \"tset\"; known kinds: noop, test", await Error("select queue.enqueue('tset')"));
        Assert.Contains("args must be a JSON object, got array", await Error("select queue.enqueue('test', '[1]')"));
        Assert.Contains("priority must be between 0 and 32767", await Error("select queue.enqueue('test', '{}', priority => -1)"));
        Assert.Contains("kind must not be empty", await Error("select queue.enqueue('  ')"));
        Assert.Equal(0, await Db.ScalarAsync("select count(*) from queue.jobs"));
    }

    [Fact]
    public async Task A_snoozed_job_runs_again_without_using_an_attempt_or_recording_an_error()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var (id, _) = await engine.Client.EnqueueAsync(new TestArgs("snoozy", SnoozeAttempts: 1));
        var row = await Db.WaitForStateAsync(id, "succeeded");
        Assert.Equal("[]", row.Errors);
        Assert.Equal(2, await Db.ScalarAsync("select count(*) from test_runs where key = 'snoozy'"));
    }

    [Fact]
    public async Task A_job_that_outlives_its_timeout_is_cancelled_and_fails_the_attempt()
    {
        await using var engine = await EngineHost.StartAsync(Db, testKind: o => o.Timeout = TimeSpan.FromMilliseconds(200));
        var (id, _) = await engine.Client.EnqueueAsync(new TestArgs("slow", SleepMs: 60_000), new EnqueueOptions { MaxAttempts = 1 });
        var row = await Db.WaitForStateAsync(id, "failed");
        Assert.Contains("timed out after 00:00:00.2", row.Errors);
        Assert.Equal(0, await Db.ScalarAsync("select count(*) from test_runs where finished_at is not null"));
    }

    [Fact]
    public async Task Cancelling_a_running_job_reaches_its_token_and_ends_it_deleted()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var (id, _) = await engine.Client.EnqueueAsync(new TestArgs("long", SleepMs: 60_000));
        await Db.WaitForStateAsync(id, "processing");
        Assert.Equal(JobActionResult.CancelRequested, await engine.Client.CancelAsync(id, "operator changed their mind"));
        var row = await Db.WaitForStateAsync(id, "deleted");
        Assert.Equal("operator changed their mind", row.Reason);
        Assert.Equal(JobActionResult.NotAllowed, await engine.Client.CancelAsync(id));
        Assert.Equal(JobActionResult.NotFound, await engine.Client.CancelAsync(id + 1000));
    }

    [Fact]
    public async Task Failed_and_deleted_jobs_can_be_retried_and_waiting_jobs_deleted()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var (failed, _) = await engine.Client.EnqueueAsync(new TestArgs("again", FailAttempts: 1), new EnqueueOptions { MaxAttempts = 1 });
        await Db.WaitForStateAsync(failed, "failed");
        Assert.Equal(JobActionResult.Done, await engine.Client.RetryAsync(failed));
        var row = await Db.WaitForStateAsync(failed, "succeeded");
        Assert.Equal(1, JsonDocument.Parse(row.Errors).RootElement.GetArrayLength());
        Assert.Equal(JobActionResult.NotAllowed, await engine.Client.RetryAsync(failed));

        var (later, _) = await engine.Client.ScheduleAsync(new TestArgs("later"), TimeSpan.FromHours(1));
        Assert.Equal("scheduled", (await Db.JobAsync(later)).State);
        Assert.Equal(JobActionResult.Done, await engine.Client.DeleteAsync(later));
        Assert.Equal("deleted", (await Db.JobAsync(later)).State);
    }

    [Fact]
    public async Task Completing_inside_the_handlers_transaction_makes_its_effect_and_the_success_one_commit()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var (id, _) = await engine.Client.EnqueueAsync(new TestArgs("tx", Transactional: true));
        await Db.WaitForStateAsync(id, "succeeded");
        Assert.Equal(id, await Db.ScalarAsync("select job_id from test_effects where key = 'tx'"));
    }

    [Fact]
    public async Task Batch_enqueue_by_copy_runs_every_job()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        var count = await engine.Client.EnqueueManyAsync(Enumerable.Range(0, 500).Select(i => new TestArgs($"batch-{i}")));
        Assert.Equal(500, count);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await Db.ScalarAsync("select count(*) from queue.jobs where state = 'succeeded'") < 500 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(500, await Db.ScalarAsync("select count(*) from queue.jobs where state = 'succeeded'"));
        Assert.Equal(500, await Db.ScalarAsync("select count(distinct key) from test_runs"));
    }

    [Fact]
    public async Task Graceful_stop_finishes_short_jobs_and_hands_long_ones_back_for_another_node()
    {
        var first = await EngineHost.StartAsync(Db);
        var (shortJob, _) = await first.Client.EnqueueAsync(new TestArgs("short", SleepMs: 500));
        var (longJob, _) = await first.Client.EnqueueAsync(new TestArgs("long", SleepMs: 4_000));
        await Db.WaitForStateAsync(shortJob, "processing");
        await Db.WaitForStateAsync(longJob, "processing");
        await first.DisposeAsync(); // ShutdownTimeout is 2 s in these tests

        Assert.Equal("succeeded", (await Db.JobAsync(shortJob)).State);
        var handedBack = await Db.JobAsync(longJob);
        Assert.Equal("enqueued", handedBack.State);
        Assert.Equal(0, handedBack.Attempt);
        Assert.Equal(0, await Db.ScalarAsync("select count(*) from queue.nodes"));
        Assert.Equal(0, await Db.ScalarAsync("select count(*) from queue.leader"));

        await using var second = await EngineHost.StartAsync(Db);
        var row = await Db.WaitForStateAsync(longJob, "succeeded");
        Assert.Equal(second.Node, row.Node);
    }

    [Fact]
    public async Task Without_notify_jobs_still_run_by_polling()
    {
        await using var engine = await EngineHost.StartAsync(Db, o => o.UseNotify = false);
        var (id, _) = await engine.Client.EnqueueAsync(new TestArgs("polled"));
        await Db.WaitForStateAsync(id, "succeeded");
        // Cancel requests reach a running job through the watcher's poll as well.
        var (running, _) = await engine.Client.EnqueueAsync(new TestArgs("polled-long", SleepMs: 60_000));
        await Db.WaitForStateAsync(running, "processing");
        Assert.Equal(JobActionResult.CancelRequested, await engine.Client.CancelAsync(running, "no notify needed"));
        Assert.Equal("no notify needed", (await Db.WaitForStateAsync(running, "deleted")).Reason);
    }

    [Fact]
    public async Task A_delayed_job_waits_for_its_time_and_runs_once_the_clock_reaches_it()
    {
        var clock = new FakeClock(DateTimeOffset.UtcNow);
        await using var engine = await EngineHost.StartAsync(Db, clock: clock);
        var (id, _) = await engine.Client.ScheduleAsync(new TestArgs("delayed"), TimeSpan.FromHours(1));
        var (early, _) = await engine.Client.EnqueueAsync(new TestArgs("now"));
        // A job enqueued after it has run: the scheduler has passed over the delayed one meanwhile.
        await Db.WaitForStateAsync(early, "succeeded");
        var (probe, _) = await engine.Client.ScheduleAsync(new TestArgs("probe"), TimeSpan.FromMinutes(1));
        clock.Advance(TimeSpan.FromMinutes(2));
        await Db.WaitForStateAsync(probe, "succeeded");
        Assert.Equal("scheduled", (await Db.JobAsync(id)).State);

        clock.Advance(TimeSpan.FromHours(1));
        await Db.WaitForStateAsync(id, "succeeded");
    }

    [Fact]
    public async Task Rescues_the_processing_jobs_of_a_node_whose_heartbeat_expired()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        // A node that claimed a job and died: its row is stale, the job still says processing.
        var id = await Db.ScalarAsync("""
            insert into queue.nodes (name, host, pid, version, heartbeat_at) values ('ghost', 'h', 1, 'x', now() - interval '1 hour');
            insert into queue.kinds (kind, queue, max_attempts, node) values ('test', 'default', 10, 'ghost') on conflict do nothing;
            insert into queue.jobs (kind, args, state, attempt, node, started_at) values ('test', '{"key": "orphan"}', 'processing', 1, 'ghost', now())
            returning id
            """);
        var row = await Db.WaitForStateAsync(id, "succeeded");
        Assert.Equal(2, row.Attempt);
        Assert.Contains("node ghost stopped heartbeating", row.Errors);
        // The rescuer forgets dead nodes after rescuing their jobs, in the same pass.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await Db.ScalarAsync("select count(*) from queue.nodes where name = 'ghost'") > 0 && DateTime.UtcNow < deadline) await Task.Delay(25);
        Assert.Equal(0, await Db.ScalarAsync("select count(*) from queue.nodes where name = 'ghost'"));
    }

    [Fact]
    public async Task The_pruner_deletes_finished_jobs_past_their_states_retention_only()
    {
        await using var engine = await EngineHost.StartAsync(Db, o =>
        {
            o.PrunerInterval = TimeSpan.FromMilliseconds(100);
            o.SucceededRetention = TimeSpan.FromHours(1);
            o.FailedRetention = TimeSpan.FromDays(7);
        });
        await Db.ScalarAsync("""
            insert into queue.jobs (kind, state, finished_at) values
                ('test', 'succeeded', now() - interval '2 hours'),
                ('test', 'succeeded', now() - interval '10 minutes'),
                ('test', 'failed', now() - interval '2 hours'),
                ('test', 'failed', now() - interval '8 days')
            returning 1
            """);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await Db.ScalarAsync("select count(*) from queue.jobs where kind = 'test' and state in ('succeeded', 'failed')") > 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(25);
        }
        Assert.Equal(1, await Db.ScalarAsync("select count(*) from queue.jobs where state = 'succeeded' and finished_at > now() - interval '1 hour'"));
        Assert.Equal(1, await Db.ScalarAsync("select count(*) from queue.jobs where state = 'failed' and finished_at > now() - interval '7 days'"));
        Assert.Equal(2, await Db.ScalarAsync("select count(*) from queue.jobs where state in ('succeeded', 'failed')"));
    }

    [Fact]
    public async Task A_late_completion_from_a_rescued_node_is_fenced_off()
    {
        await using var engine = await EngineHost.StartAsync(Db, o => o.Queues = new() { ["other"] = new QueueSettings() });
        var completer = engine.Services.GetRequiredService<BatchCompleter>();
        // The job was claimed by this node, then rescued and re-claimed by another node meanwhile.
        // The other node is alive (fresh heartbeat), so the rescuer leaves its job alone.
        var id = await Db.ScalarAsync("""
            insert into queue.nodes (name, host, pid, version) values ('other-node', 'h', 1, 'x');
            insert into queue.jobs (kind, args, state, attempt, node) values ('test', '{"key": "x"}', 'processing', 2, 'other-node') returning id
            """);
        var stale = new ClaimedJob(id, "default", "test", "{}", 1, 10, DateTime.UtcNow, DateTime.UtcNow);
        await completer.SubmitAsync(new JobOutcome(stale, OutcomeKind.Succeeded));
        // The completer says when a flushed outcome did not pass the fence.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!engine.Logs.Entries.Any(e => e.Message.StartsWith("1 outcomes were not recorded", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "the stale outcome was never flushed and fenced off");
            await Task.Delay(25);
        }
        var row = await Db.JobAsync(id);
        Assert.Equal("processing", row.State);
        Assert.Equal("other-node", row.Node);
    }
}
