using Dapper;
using Jobsd.Jobs.Partitions;
using Jobsd.Queue;
using Jobsd.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Jobsd.Jobs.Tests;

/// <summary>The partition keeper on the real audit_events table (monthly on created_at) with a chosen "now".</summary>
public sealed class PartitionKeeperTests : DatabaseTest
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private PartitionKeeper Keeper(PartitionSettings? settings = null) =>
        new(Db.DataSource, settings ?? new PartitionSettings(), NullLogger<PartitionKeeper>.Instance);

    private async Task<List<(string Name, string Bound)>> PartitionsAsync(string table = "audit_events")
    {
        await using var c = await Db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("set timezone = 'UTC'");
        return (await c.QueryAsync<(string, string)>("""
            select c.relname, pg_get_expr(c.relpartbound, c.oid) from pg_inherits i join pg_class c on c.oid = i.inhrelid
            where i.inhparent = @table::regclass order by c.relname
            """, new { table })).ToList();
    }

    [Fact]
    public async Task A_fresh_table_gets_the_window_and_a_rerun_changes_nothing()
    {
        var report = await Keeper().RunAsync("audit_events", new PartitionTableSettings(), Now, CancellationToken.None);
        Assert.Equal(["audit_events_2026_10", "audit_events_2026_11", "audit_events_2026_12", "audit_events_2027_01", "audit_events_2027_02", "audit_events_2027_03"], report.Created);
        var partitions = await PartitionsAsync();
        Assert.Contains(("audit_events_2026_11", "FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')"), partitions);
        Assert.Contains(partitions, p => p.Bound == "DEFAULT");

        var again = await Keeper().RunAsync("audit_events", new PartitionTableSettings(), Now, CancellationToken.None);
        Assert.Empty(again.Created);
        Assert.Empty(again.Retired);
        Assert.Equal(partitions, await PartitionsAsync());
    }

    [Fact]
    public async Task Moving_the_clock_to_mid_december_2027_adds_the_2028_partitions()
    {
        await Keeper().RunAsync("audit_events", new PartitionTableSettings(), Now, CancellationToken.None);
        var report = await Keeper().RunAsync("audit_events", new PartitionTableSettings(), new DateTimeOffset(2027, 12, 15, 0, 0, 0, TimeSpan.Zero), CancellationToken.None);
        Assert.Equal(["audit_events_2027_11", "audit_events_2027_12", "audit_events_2028_01", "audit_events_2028_02", "audit_events_2028_03", "audit_events_2028_04"], report.Created);
    }

    [Fact]
    public async Task Rows_parked_in_the_default_partition_move_to_partitions_of_their_own_and_nothing_is_lost()
    {
        await using var c = await Db.DataSource.OpenConnectionAsync();
        // A backfill from 2025 and an event from a clock far ahead land in the default partition.
        await c.ExecuteAsync("""
            insert into audit_events (created_at, actor, action) select '2025-03-10T12:00:00Z'::timestamptz + g * interval '1 minute', 'backfill', 'x' from generate_series(1, 250) g;
            insert into audit_events (created_at, actor, action) values ('2030-01-01T00:00:00Z', 'clock', 'ahead');
            """);
        var report = await Keeper().RunAsync("audit_events", new PartitionTableSettings(), Now, CancellationToken.None);
        Assert.Equal(251, report.RowsMoved);
        Assert.Contains("audit_events_2025_03", report.Created);
        Assert.Contains("audit_events_2030_01", report.Created);
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("select count(*) from audit_events_default"));
        Assert.Equal(250, await c.ExecuteScalarAsync<long>("select count(*) from audit_events_2025_03"));
        Assert.Equal(251, await c.ExecuteScalarAsync<long>("select count(*) from audit_events"));
    }

    [Fact]
    public async Task An_insert_at_midnight_utc_on_the_first_lands_in_the_new_months_partition()
    {
        await Keeper().RunAsync("audit_events", new PartitionTableSettings(), Now, CancellationToken.None);
        await using var c = await Db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("insert into audit_events (created_at, actor, action) values ('2026-12-01T00:00:00Z', 'a', 'edge'), ('2026-11-30T23:59:59.999999Z', 'a', 'before')");
        Assert.Equal("edge", await c.ExecuteScalarAsync<string>("select action from audit_events_2026_12"));
        Assert.Equal("before", await c.ExecuteScalarAsync<string>("select action from audit_events_2026_11"));
        // A writer in another zone changes nothing: bounds are instants.
        await c.ExecuteAsync("set timezone = 'Pacific/Auckland'; insert into audit_events (created_at, actor, action) values ('2026-12-01 13:00:00+13', 'a', 'auckland')");
        Assert.Equal(2, await c.ExecuteScalarAsync<long>("select count(*) from audit_events_2026_12"));
    }

    [Theory]
    [InlineData(RetentionAction.Detach)]
    [InlineData(RetentionAction.Drop)]
    public async Task Partitions_past_retention_are_detached_or_dropped_but_never_the_current_one(RetentionAction action)
    {
        var old = new PartitionTableSettings { Behind = 6 };
        await Keeper().RunAsync("audit_events", old, Now, CancellationToken.None);
        await using var c = await Db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("insert into audit_events (created_at, actor, action) values ('2026-06-15T00:00:00Z', 'a', 'old')");

        var config = new PartitionTableSettings { Behind = 1, Retention = TimeSpan.FromDays(90), RetentionAction = action };
        var report = await Keeper().RunAsync("audit_events", config, Now, CancellationToken.None);
        // 90 days before 2026-11-22 is 2026-08-24: May, June and July end before it; August does not.
        Assert.Equal(["audit_events_2026_05", "audit_events_2026_06", "audit_events_2026_07"], report.Retired.Order());
        var remaining = (await PartitionsAsync()).Select(p => p.Name).ToList();
        Assert.Contains("audit_events_2026_08", remaining);
        Assert.Contains("audit_events_2026_11", remaining);
        Assert.DoesNotContain("audit_events_2026_06", remaining);
        var stillThere = await c.ExecuteScalarAsync<bool>("select to_regclass('public.audit_events_2026_06') is not null");
        Assert.Equal(action == RetentionAction.Detach, stillThere);
        if (stillThere) Assert.Equal(1, await c.ExecuteScalarAsync<long>("select count(*) from audit_events_2026_06"));

        // Even a retention shorter than the current month never retires the current partition.
        var shortest = new PartitionTableSettings { Behind = 0, Retention = TimeSpan.FromHours(1), RetentionAction = action };
        Assert.DoesNotContain("audit_events_2026_11", (await Keeper().RunAsync("audit_events", shortest, Now, CancellationToken.None)).Retired);
    }

    [Fact]
    public async Task Two_concurrent_runs_both_succeed_and_create_each_partition_once()
    {
        var runs = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Keeper().RunAsync("audit_events", new PartitionTableSettings(), Now, CancellationToken.None)));
        Assert.Equal(6, runs.Sum(r => r.Created.Count(n => n != "audit_events_default")));
        Assert.Equal(7, (await PartitionsAsync()).Count);
    }

    [Fact]
    public async Task A_daily_table_gets_daily_partitions()
    {
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            await c.ExecuteAsync("create table metrics_daily (at timestamptz not null, v int) partition by range (at)");
        }
        var report = await Keeper().RunAsync("metrics_daily", new PartitionTableSettings { Column = "at", Interval = PartitionInterval.Daily, Premake = 2, Behind = 1 }, Now, CancellationToken.None);
        Assert.Equal(["metrics_daily_default", "metrics_daily_2026_11_21", "metrics_daily_2026_11_22", "metrics_daily_2026_11_23", "metrics_daily_2026_11_24"], report.Created);
    }

    [Theory]
    [InlineData("create table plain (created_at timestamptz)", "plain", "created_at", "partitions: table plain is not partitioned")]
    [InlineData("create table listed (created_at timestamptz, k int) partition by list (k)", "listed", "created_at", "partitions: table listed is not range-partitioned")]
    [InlineData("create table other (created_at timestamptz, at timestamptz) partition by range (at)", "other", "created_at", "partitions: table other is partitioned on at, not on the configured column created_at")]
    [InlineData(null, "missing_table", "created_at", "partitions: table missing_table does not exist")]
    public async Task A_table_that_cannot_be_kept_fails_permanently_naming_it(string? ddl, string table, string column, string message)
    {
        if (ddl is not null)
        {
            await using var c = await Db.DataSource.OpenConnectionAsync();
            await c.ExecuteAsync(ddl);
        }
        var e = await Assert.ThrowsAsync<JobPermanentException>(() => Keeper().RunAsync(table, new PartitionTableSettings { Column = column }, Now, CancellationToken.None));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public async Task A_table_the_application_holds_locked_is_given_up_after_the_lock_timeout()
    {
        await Keeper().RunAsync("audit_events", new PartitionTableSettings(), Now, CancellationToken.None);
        await using var holder = await Db.DataSource.OpenConnectionAsync();
        await using var tx = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync("lock table audit_events in access exclusive mode", transaction: tx);
        var keeper = Keeper(new PartitionSettings { LockTimeout = TimeSpan.FromMilliseconds(300) });
        var e = await Assert.ThrowsAsync<PostgresException>(() =>
            keeper.RunAsync("audit_events", new PartitionTableSettings(), new DateTimeOffset(2027, 6, 1, 0, 0, 0, TimeSpan.Zero), CancellationToken.None));
        Assert.Equal(PostgresErrorCodes.LockNotAvailable, e.SqlState);
    }
}
