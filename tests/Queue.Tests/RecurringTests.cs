using Dapper;
using Jobsd.Data;
using Jobsd.Queue.Recurring;
using Jobsd.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Jobsd.Queue.Tests;

/// <summary>
/// The cron enqueuer against a real database with a hand-moved clock: each pass is run
/// directly (as the leader would), so no test waits for the wall clock.
/// </summary>
public sealed class RecurringTests : DatabaseTest
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 10, 0, TimeSpan.Zero);

    /// <summary>One node's recurring parts on the test database (not started: passes are run by hand).</summary>
    private sealed class Node : IAsyncDisposable
    {
        private readonly ServiceProvider _services;

        public Node(string connectionString, FakeClock clock, Action<RecurringCatalog>? define = null)
        {
            var services = new ServiceCollection();
            services.AddLogging();
            services.AddSingleton<TimeProvider>(clock);
            services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
            services.AddSingleton(new DatabaseReadiness());
            services.AddJobsdQueue(new QueueOptions());
            services.AddJob<TestJob, TestArgs>(_ => { });
            define?.Invoke(QueueServiceCollectionExtensions.Catalog(services));
            _services = services.BuildServiceProvider();
        }

        public CronEnqueuer Enqueuer => _services.GetRequiredService<CronEnqueuer>();
        public RecurringClient Client => _services.GetRequiredService<RecurringClient>();
        public RecurringSynchronizer Synchronizer => _services.GetRequiredService<RecurringSynchronizer>();

        public Task<int> PassAsync() => Enqueuer.RunOnceAsync(CancellationToken.None);

        public ValueTask DisposeAsync() => _services.DisposeAsync();
    }

    private async Task<NpgsqlConnection> ConnectAsync()
    {
        var c = await Db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("insert into queue.kinds (kind, queue, max_attempts, node) values ('test', 'default', 10, 'n') on conflict do nothing");
        return c;
    }

    private static RecurringDefinition Every(string name, string cron, MisfirePolicy misfire = MisfirePolicy.Once, OverlapPolicy overlap = OverlapPolicy.Allow,
        int maxCatchUp = 100, RecurringSource source = RecurringSource.Api) =>
        new(name, cron, TestArgs.Kind, """{"key": "r"}""", source, Misfire: misfire, Overlap: overlap, MaxCatchUp: maxCatchUp);

    private static Task<List<string>> KeysAsync(NpgsqlConnection c, string name) =>
        c.QueryAsync<string>("select unique_key from queue.jobs where @tag = any(tags) order by unique_key", new { tag = "recurring:" + name })
            .ContinueWith(t => t.Result.ToList());

    private static string Key(string name, DateTimeOffset fire) => $"recurring:{name}:{fire.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}";

    [Fact]
    public async Task An_every_second_schedule_fires_each_second_of_a_simulated_minute_without_gaps_or_doubles()
    {
        var clock = new FakeClock(T0);
        await using var c = await ConnectAsync();
        await using var node = new Node(Db.ConnectionString, clock);
        await node.Client.UpsertAsync(Every("tick", "* * * * * *"));
        for (var s = 0; s < 60; s++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(1, await node.PassAsync());
            Assert.Equal(0, await node.PassAsync()); // a second pass at the same instant finds nothing due
        }
        var expected = Enumerable.Range(1, 60).Select(s => Key("tick", T0.AddSeconds(s))).Order(StringComparer.Ordinal);
        Assert.Equal(expected, await KeysAsync(c, "tick"));
        var job = await node.Client.GetAsync("tick");
        Assert.Equal(T0.AddSeconds(60), job!.LastRunAt);
        Assert.Equal(T0.AddSeconds(61), job.NextRunAt);
    }

    [Fact]
    public async Task Two_nodes_that_both_act_as_leader_enqueue_each_fire_exactly_once()
    {
        var clock = new FakeClock(T0);
        await using var c = await ConnectAsync();
        await using var a = new Node(Db.ConnectionString, clock);
        await using var b = new Node(Db.ConnectionString, clock);
        await a.Client.UpsertAsync(Every("twin", "* * * * * *"));
        for (var s = 0; s < 30; s++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            var passes = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => (i % 2 == 0 ? a : b).PassAsync()));
            Assert.Equal(1, passes.Sum());
        }
        var keys = await KeysAsync(c, "twin");
        Assert.Equal(30, keys.Count);
        Assert.Equal(30, keys.Distinct().Count());
    }

    [Fact]
    public async Task A_job_left_for_a_fire_by_a_leader_that_died_before_advancing_is_not_duplicated()
    {
        var clock = new FakeClock(T0);
        await using var c = await ConnectAsync();
        await using var node = new Node(Db.ConnectionString, clock);
        await node.Client.UpsertAsync(Every("crash", "*/5 * * * *"));
        var fire = new DateTimeOffset(2026, 1, 1, 0, 15, 0, TimeSpan.Zero);
        // The job of the 00:15 fire exists, but next_run_at still says 00:15.
        var orphan = await c.ExecuteScalarAsync<long>(
            "select queue.enqueue('test', '{\"key\": \"r\"}', unique_key => @key, tags => array['recurring:crash'])", new { key = Key("crash", fire) });

        clock.Set(fire.AddSeconds(2));
        await node.PassAsync();

        Assert.Equal([Key("crash", fire)], await KeysAsync(c, "crash"));
        var job = await node.Client.GetAsync("crash");
        Assert.Equal(orphan, job!.LastJobId);
        Assert.Equal(fire.AddMinutes(5), job.NextRunAt);
    }

    [Theory]
    [InlineData(MisfirePolicy.Once, 100, 1)]
    [InlineData(MisfirePolicy.All, 100, 72)]
    [InlineData(MisfirePolicy.All, 10, 10)]
    [InlineData(MisfirePolicy.Skip, 100, 0)]
    public async Task After_three_days_of_downtime_the_misfire_policy_decides_what_runs(MisfirePolicy policy, int maxCatchUp, int expectedRuns)
    {
        var clock = new FakeClock(T0);
        await using var c = await ConnectAsync();
        await using var node = new Node(Db.ConnectionString, clock);
        await node.Client.UpsertAsync(Every("hourly", "0 * * * *", policy, maxCatchUp: maxCatchUp));

        // Fires due at 01:00 on day 1 through 00:00 on day 4: 72 of them, all missed.
        clock.Set(new DateTimeOffset(2026, 1, 4, 0, 40, 0, TimeSpan.Zero));
        await node.PassAsync();

        var keys = await KeysAsync(c, "hourly");
        Assert.Equal(expectedRuns, keys.Count);
        var latest = new DateTimeOffset(2026, 1, 4, 0, 0, 0, TimeSpan.Zero);
        if (expectedRuns > 0)
        {
            // Always the most recent ones: once runs "now" for the latest fire, all keeps the newest.
            Assert.Equal(Enumerable.Range(0, expectedRuns).Select(i => Key("hourly", latest.AddHours(-i))).Order(StringComparer.Ordinal), keys);
        }
        var job = await node.Client.GetAsync("hourly");
        Assert.Equal(latest.AddHours(1), job!.NextRunAt);

        // The schedule then simply continues.
        clock.Set(latest.AddHours(1).AddSeconds(1));
        Assert.Equal(1, await node.PassAsync());
    }

    [Fact]
    public async Task A_fire_found_late_but_within_the_threshold_still_runs_under_skip()
    {
        var clock = new FakeClock(T0);
        await using var c = await ConnectAsync();
        await using var node = new Node(Db.ConnectionString, clock);
        await node.Client.UpsertAsync(Every("late", "0 * * * *", MisfirePolicy.Skip));
        clock.Set(new DateTimeOffset(2026, 1, 1, 1, 0, 30, TimeSpan.Zero)); // 30 s late: a leader change, not downtime
        Assert.Equal(1, await node.PassAsync());
    }

    [Fact]
    public async Task Overlap_skip_enqueues_nothing_while_the_previous_run_is_unfinished_and_records_the_skip()
    {
        var clock = new FakeClock(T0);
        await using var c = await ConnectAsync();
        await using var node = new Node(Db.ConnectionString, clock);
        await node.Client.UpsertAsync(Every("long", "* * * * *", overlap: OverlapPolicy.Skip));

        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await node.PassAsync());
        var first = (await node.Client.GetAsync("long"))!.LastJobId;
        await c.ExecuteAsync("update queue.jobs set state = 'processing', node = 'n', attempt = 1 where id = @first", new { first });

        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, await node.PassAsync());
        var skipped = await node.Client.GetAsync("long");
        Assert.Equal(1, skipped!.SkippedCount);
        Assert.NotNull(skipped.LastSkippedAt);
        Assert.Equal(first, skipped.LastJobId);
        Assert.Equal("processing", skipped.LastJobState);

        await c.ExecuteAsync("update queue.jobs set state = 'succeeded', finished_at = now() where id = @first", new { first });
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await node.PassAsync());
        Assert.Equal(2, (await KeysAsync(c, "long")).Count);
    }

    [Fact]
    public async Task Overlap_allow_enqueues_every_fire_even_while_a_run_is_unfinished()
    {
        var clock = new FakeClock(T0);
        await using var c = await ConnectAsync();
        await using var node = new Node(Db.ConnectionString, clock);
        await node.Client.UpsertAsync(Every("parallel", "* * * * *"));
        clock.Advance(TimeSpan.FromMinutes(1));
        await node.PassAsync();
        clock.Advance(TimeSpan.FromMinutes(1));
        await node.PassAsync();
        Assert.Equal(2, (await KeysAsync(c, "parallel")).Count);
    }

    [Fact]
    public async Task Pause_stops_fires_resume_continues_from_now_and_trigger_runs_at_once()
    {
        var clock = new FakeClock(T0);
        await using var c = await ConnectAsync();
        await using var node = new Node(Db.ConnectionString, clock);
        await node.Client.UpsertAsync(Every("ops", "0 * * * *"));

        Assert.Equal(RecurringActionResult.Done, await node.Client.PauseAsync("ops"));
        clock.Set(new DateTimeOffset(2026, 1, 1, 5, 30, 0, TimeSpan.Zero));
        Assert.Equal(0, await node.PassAsync());
        Assert.True((await node.Client.GetAsync("ops"))!.Paused);

        // A trigger works while paused, and does not touch the schedule.
        var triggered = await node.Client.TriggerAsync("ops");
        Assert.NotNull(triggered);
        Assert.StartsWith("recurring:ops:manual:", Assert.Single(await KeysAsync(c, "ops")));

        Assert.Equal(RecurringActionResult.Done, await node.Client.ResumeAsync("ops"));
        var resumed = await node.Client.GetAsync("ops");
        Assert.False(resumed!.Paused);
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 6, 0, 0, TimeSpan.Zero), resumed.NextRunAt); // the paused fires are not caught up
        Assert.Equal(triggered, resumed.LastJobId);
        Assert.Equal(0, await node.PassAsync());

        Assert.Equal(RecurringActionResult.NotFound, await node.Client.PauseAsync("nosuch"));
        Assert.Null(await node.Client.TriggerAsync("nosuch"));
        Assert.Equal(RecurringActionResult.Done, await node.Client.RemoveAsync("ops"));
        Assert.Null(await node.Client.GetAsync("ops"));
        Assert.Equal(RecurringActionResult.NotFound, await node.Client.RemoveAsync("ops"));
    }

    [Fact]
    public async Task Start_up_sync_adds_updates_and_removes_config_jobs_and_leaves_api_jobs_and_pauses_alone()
    {
        var clock = new FakeClock(T0);
        await using var c = await ConnectAsync();
        await using (var first = new Node(Db.ConnectionString, clock, catalog =>
        {
            catalog.Add(Every("kept", "0 3 * * *", source: RecurringSource.Config));
            catalog.Add(Every("changed", "0 3 * * *", source: RecurringSource.Config));
            catalog.Add(Every("dropped", "0 3 * * *", source: RecurringSource.Config));
        }))
        {
            await first.Synchronizer.SyncAsync(CancellationToken.None);
            await first.Client.UpsertAsync(Every("from-api", "0 4 * * *"));
            await first.Client.PauseAsync("kept");
        }
        var keptBefore = await c.ExecuteScalarAsync<DateTime>("select updated_at from queue.recurring where name = 'kept'");

        clock.Set(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
        await using var second = new Node(Db.ConnectionString, clock, catalog =>
        {
            catalog.Add(Every("kept", "0 3 * * *", source: RecurringSource.Config));
            catalog.Add(Every("changed", "30 6 * * *", source: RecurringSource.Config) with { TimeZone = "Europe/Berlin" });
            catalog.Add(Every("added", "@hourly", source: RecurringSource.Config));
        });
        await second.Synchronizer.SyncAsync(CancellationToken.None);

        var jobs = (await second.Client.ListAsync()).ToDictionary(j => j.Name);
        Assert.Equal(["added", "changed", "from-api", "kept"], jobs.Keys.Order());
        Assert.True(jobs["kept"].Paused); // an operator's pause survives a restart
        Assert.Equal(keptBefore, await c.ExecuteScalarAsync<DateTime>("select updated_at from queue.recurring where name = 'kept'")); // unchanged: not rewritten
        Assert.Equal("30 6 * * *", jobs["changed"].Cron);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 5, 30, 0, TimeSpan.Zero), jobs["changed"].NextRunAt); // 06:30 Berlin, from the new schedule
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 13, 0, 0, TimeSpan.Zero), jobs["added"].NextRunAt);
        Assert.Equal("api", jobs["from-api"].Source);
    }

    [Fact]
    public async Task A_refused_enqueue_is_recorded_on_the_job_and_the_schedule_moves_on()
    {
        var clock = new FakeClock(T0);
        await using var c = await ConnectAsync();
        await using var node = new Node(Db.ConnectionString, clock);
        await node.Client.UpsertAsync(Every("orphaned", "* * * * *") with { Kind = "retired" });
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, await node.PassAsync());
        var job = await node.Client.GetAsync("orphaned");
        Assert.Contains("unknown kind \"retired\"", job!.LastError);
        Assert.Equal(T0.AddMinutes(2), job.NextRunAt);
    }

    [Fact]
    public void Definitions_are_validated_against_the_kinds_this_node_runs()
    {
        var registry = new JobRegistry();
        registry.Add<TestJob, TestArgs>(new JobKindOptions());
        string Problems(RecurringDefinition d) => string.Join("\n", d.Validate(registry, d.Source == RecurringSource.Config, out _));

        Assert.Empty(Problems(Every("ok", "0 3 * * *")));
        Assert.Contains("recurring job 'bad-cron': cron '0 0 30 2 *': can never fire", Problems(Every("bad-cron", "0 0 30 2 *")));
        Assert.Contains("recurring job 'bad-zone': unknown time zone 'Mars/Olympus'", Problems(Every("bad-zone", "@daily") with { TimeZone = "Mars/Olympus" }));
        Assert.Contains("recurring job 'bad-kind': unknown kind 'nosuch'; this node runs: test", Problems(Every("bad-kind", "@daily") with { Kind = "nosuch" }));
        Assert.Contains("recurring job 'bad-args': args of kind 'test' do not bind", Problems(Every("bad-args", "@daily") with { ArgsJson = """{"kye": "x"}""" }));
        Assert.Contains("a name is letters", Problems(Every("bad name!", "@daily")));

        // Configuration values are strings: numbers and booleans bind from them, and are stored canonically.
        var fromConfig = Every("config", "@daily", source: RecurringSource.Config) with { ArgsJson = """{"key": "k", "sleep_ms": "5", "permanent": "true"}""" };
        Assert.Empty(fromConfig.Validate(registry, argsFromConfiguration: true, out var canonical));
        Assert.Contains("\"sleep_ms\":5", canonical);
        Assert.Contains("\"permanent\":true", canonical);
    }

    [Fact]
    public async Task An_engine_that_cannot_start_says_why_and_stops_the_process_instead_of_idling()
    {
        // A definition that skipped validation (start-up normally refuses it with exit code 78).
        await using var engine = await EngineHost.StartAsync(Db, services: s =>
            QueueServiceCollectionExtensions.Catalog(s).Add(Every("broken", "0 0 30 2 *", source: RecurringSource.Code)));
        var lifetime = engine.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>();
        Assert.True(lifetime.ApplicationStopping.IsCancellationRequested);
        Assert.False(engine.Services.GetRequiredService<QueueEngine>().IsStarted);
        var entry = Assert.Single(engine.Logs.Entries, e => e.Message.Contains("The engine could not start", StringComparison.Ordinal));
        Assert.Contains("can never fire", entry.Exception?.Message);
        Environment.ExitCode = 0; // the test process's own exit code is not this test's business
    }
}
