using Dapper;
using Jobsd.Data.Migrations;
using Jobsd.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Jobsd.Data.Tests;

public sealed class MigrationRunnerTests : IAsyncLifetime
{
    private TestDatabase _db = null!;
    private readonly ScriptFolder _scripts = new();

    public async Task InitializeAsync() => _db = await TestPostgres.CreateDatabaseAsync(migrated: false);

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        _scripts.Dispose();
    }

    private MigrationRunner Runner(IScriptSource? source = null) =>
        new(_db.DataSource, source ?? new FolderScriptSource(_scripts.Root), NullLogger<MigrationRunner>.Instance);

    private async Task<List<string>> ScriptsRunAsync()
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();
        return (await c.QueryAsync<string>("select folder || '/' || name from migrations.scripts_run order by id")).ToList();
    }

    [Fact]
    public async Task Embedded_scripts_migrate_a_fresh_database_and_a_second_run_is_current()
    {
        var runner = Runner(new EmbeddedScriptSource());
        var first = await runner.MigrateAsync(dryRun: false, CancellationToken.None);
        Assert.Contains(first.Scripts, s => s.Script.Path == "up/0001_platform.sql");

        var plan = await runner.PlanAsync(CancellationToken.None);
        Assert.True(plan.IsCurrent);
        var second = await runner.MigrateAsync(dryRun: false, CancellationToken.None);
        Assert.All(second.Scripts, s => Assert.Equal(PlanReason.EveryTime, s.Reason));

        await using var c = await _db.DataSource.OpenConnectionAsync();
        // The every-time script attached the updated_at trigger to the platform tables.
        var triggers = await c.ExecuteScalarAsync<long>("select count(*) from pg_trigger where tgname = 'set_updated_at'");
        Assert.True(triggers >= 8, $"expected updated_at triggers on the platform tables, found {triggers}");
        var teamId = await c.ExecuteScalarAsync<Guid>("insert into teams (name, updated_at) values ('a', now() - interval '1 day') returning id");
        await c.ExecuteAsync("update teams set name = 'b' where id = @teamId", new { teamId });
        Assert.True(await c.ExecuteScalarAsync<bool>("select updated_at > now() - interval '1 minute' from teams where id = @teamId", new { teamId }));
    }

    [Fact]
    public async Task Runs_one_time_scripts_in_name_order_once()
    {
        _scripts.Write("up/0002_b.sql", "insert into log values ('b');")
                .Write("up/0001_a.sql", "create table log (v text); insert into log values ('a');")
                .Write("up/0010_c.sql", "insert into log values ('c');");
        await Runner().MigrateAsync(false, CancellationToken.None);
        await Runner().MigrateAsync(false, CancellationToken.None);

        await using var c = await _db.DataSource.OpenConnectionAsync();
        Assert.Equal(["a", "b", "c"], (await c.QueryAsync<string>("select v from log")).ToList());
        Assert.Equal(["up/0001_a.sql", "up/0002_b.sql", "up/0010_c.sql"], await ScriptsRunAsync());
    }

    [Fact]
    public async Task Reruns_an_anytime_script_only_when_its_text_changes()
    {
        _scripts.Write("up/0001.sql", "create table calls (v int);")
                .Write("functions/f.sql", "insert into calls values (1);");
        await Runner().MigrateAsync(false, CancellationToken.None);
        await Runner().MigrateAsync(false, CancellationToken.None);
        _scripts.Write("functions/f.sql", "insert into calls values (2);");
        var plan = await Runner().PlanAsync(CancellationToken.None);
        Assert.Equal(PlanReason.Changed, Assert.Single(plan.Pending).Reason);
        await Runner().MigrateAsync(false, CancellationToken.None);

        await using var c = await _db.DataSource.OpenConnectionAsync();
        Assert.Equal([1, 2], (await c.QueryAsync<int>("select v from calls order by v")).ToList());
    }

    [Fact]
    public async Task Runs_every_time_scripts_on_every_migration()
    {
        _scripts.Write("up/0001.sql", "create table calls (v int);")
                .Write("permissions/grants.sql", "insert into calls values (1);");
        for (var i = 0; i < 3; i++) await Runner().MigrateAsync(false, CancellationToken.None);

        await using var c = await _db.DataSource.OpenConnectionAsync();
        Assert.Equal(3, await c.ExecuteScalarAsync<long>("select count(*) from calls"));
        Assert.True((await Runner().PlanAsync(CancellationToken.None)).IsCurrent);
    }

    [Fact]
    public async Task Refuses_a_changed_one_time_script_and_runs_nothing()
    {
        _scripts.Write("up/0001.sql", "create table t (v int);");
        await Runner().MigrateAsync(false, CancellationToken.None);
        _scripts.Write("up/0001.sql", "create table t (v bigint);")
                .Write("up/0002.sql", "create table u (v int);");

        var error = await Assert.ThrowsAsync<MigrationException>(() => Runner().MigrateAsync(false, CancellationToken.None));
        Assert.Contains("up/0001.sql", error.Message);
        Assert.False((await Runner().PlanAsync(CancellationToken.None)).IsCurrent);
        await using var c = await _db.DataSource.OpenConnectionAsync();
        Assert.False(await c.ExecuteScalarAsync<bool>("select to_regclass('u') is not null"));
    }

    [Fact]
    public async Task A_failing_script_rolls_back_is_recorded_with_its_line_and_stops_the_run()
    {
        _scripts.Write("up/0001.sql", "create table t (v int);")
                .Write("up/0002_bad.sql", "insert into t values (1);\n\n-- a comment\ninsert into t values (2);\nselect * from missing_table;\n")
                .Write("up/0003.sql", "create table after_bad (v int);");

        var error = await Assert.ThrowsAsync<MigrationException>(() => Runner().MigrateAsync(false, CancellationToken.None));
        Assert.Contains("up/0002_bad.sql", error.Message);
        Assert.Contains("line 5", error.Message);
        Assert.Contains("42P01", error.Message);

        await using var c = await _db.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("select count(*) from t"));
        Assert.False(await c.ExecuteScalarAsync<bool>("select to_regclass('after_bad') is not null"));
        var recorded = await c.QuerySingleAsync<(string Name, string SqlState, int Line, string Error)>(
            "select name, sql_state, line, error from migrations.scripts_run_errors");
        Assert.Equal(("0002_bad.sql", "42P01", 5), (recorded.Name, recorded.SqlState, recorded.Line));
        Assert.Contains("missing_table", recorded.Error);
        Assert.Equal(["up/0001.sql"], await ScriptsRunAsync());
    }

    [Fact]
    public async Task A_notx_script_runs_outside_a_transaction()
    {
        _scripts.Write("up/0001.sql", "create table t (v int);")
                .Write("up/0002_index.notx.sql", "create index concurrently t_v_idx on t (v);\ncreate index concurrently t_v2_idx on t (v);");
        await Runner().MigrateAsync(false, CancellationToken.None);

        await using var c = await _db.DataSource.OpenConnectionAsync();
        Assert.Equal(2, await c.ExecuteScalarAsync<long>("select count(*) from pg_indexes where tablename = 't'"));
    }

    [Fact]
    public async Task A_dry_run_plans_without_running_or_creating_anything()
    {
        _scripts.Write("up/0001.sql", "create table t (v int);")
                .Write("views/v.sql", "create or replace view v as select 1 as one;");
        var plan = await Runner().MigrateAsync(dryRun: true, CancellationToken.None);

        Assert.Equal(["up/0001.sql", "views/v.sql"], plan.Scripts.Select(s => s.Script.Path).ToList());
        await using var c = await _db.DataSource.OpenConnectionAsync();
        Assert.False(await c.ExecuteScalarAsync<bool>("select to_regclass('t') is not null"));
        Assert.False(await c.ExecuteScalarAsync<bool>("select to_regnamespace('migrations') is not null"));
    }

    [Fact]
    public async Task Concurrent_migrators_run_each_script_exactly_once()
    {
        // A slow first script widens the window in which the other migrators would race.
        _scripts.Write("up/0001.sql", "create table t (v int); select pg_sleep(0.3);")
                .Write("up/0002.sql", "insert into t values (1);")
                .Write("functions/f.sql", "insert into t values (10);");
        var runs = Enumerable.Range(0, 4).Select(_ => Task.Run(() => Runner().MigrateAsync(false, CancellationToken.None)));
        await Task.WhenAll(runs);

        await using var c = await _db.DataSource.OpenConnectionAsync();
        Assert.Equal([1, 10], (await c.QueryAsync<int>("select v from t order by v")).ToList());
        Assert.Equal(["up/0001.sql", "up/0002.sql", "functions/f.sql"], await ScriptsRunAsync());
    }

    [Fact]
    public async Task An_unreachable_database_fails_with_the_connection_error()
    {
        await using var nowhere = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=2");
        var runner = new MigrationRunner(nowhere, new FolderScriptSource(_scripts.Root), NullLogger<MigrationRunner>.Instance);
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => runner.MigrateAsync(false, CancellationToken.None));
    }
}
