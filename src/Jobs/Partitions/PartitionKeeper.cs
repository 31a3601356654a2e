using System.Globalization;
using System.Text.RegularExpressions;
using Jobsd.Queue;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Jobs.Partitions;

/// <summary>What one run did to one table.</summary>
public sealed record PartitionReport(string Table, IReadOnlyList<string> Created, long RowsMoved, IReadOnlyList<string> Retired, long RowsStuckInDefault);

/// <summary>
/// Keeps a range-partitioned table writable: partitions for the window from <c>Behind</c>
/// intervals back to <c>Premake</c> ahead (UTC bounds), a default partition so no insert ever
/// fails, rows parked in the default moved into partitions of their own, and partitions past
/// retention detached (and dropped if so configured). One transaction per table under an
/// advisory lock and a lock timeout: two nodes can run it at once, a re-run changes nothing,
/// and it never blocks the application's writes for longer than the timeout.
/// <para>
/// DDL cannot take parameters: names are validated identifiers quoted by <see cref="Ident"/>,
/// and bounds are timestamps this code computed, written by <see cref="Literal"/>.
/// </para>
/// </summary>
public sealed partial class PartitionKeeper(NpgsqlDataSource dataSource, PartitionSettings settings, ILogger<PartitionKeeper> logger)
{
    private static readonly System.Diagnostics.Metrics.Meter Meter = new(JobsdMetrics.MeterName);
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> Stuck = new(StringComparer.Ordinal);
    private static readonly System.Diagnostics.Metrics.ObservableGauge<long> StuckGauge = Meter.CreateObservableGauge(
        "jobsd.partitions.default_rows_stuck", () => Stuck.Select(s => new System.Diagnostics.Metrics.Measurement<long>(s.Value, new KeyValuePair<string, object?>("table", s.Key))),
        description: "Rows in a default partition older than the retention, which the keeper cannot move (as of its last run)");

    /// <summary>A table's partitions for operators: name, bounds (UTC) and the planner's row estimate.</summary>
    public async Task<IReadOnlyList<(string Name, string Bounds, long EstimatedRows)>> ListAsync(string table, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await ExecuteAsync(connection, tx, "set local timezone = 'UTC'", ct);
        await using var command = new NpgsqlCommand("""
            select c.relname, pg_get_expr(c.relpartbound, c.oid), greatest(c.reltuples, 0)::bigint
            from pg_inherits i join pg_class c on c.oid = i.inhrelid
            where i.inhparent = to_regclass(@table)
            order by pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.relname
            """, connection, tx);
        command.Parameters.AddWithValue("table", table);
        var list = new List<(string, string, long)>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) list.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        return list;
    }

    private sealed record Partition(string Name, DateTime? From, DateTime? To)
    {
        public bool IsDefault => From is null;
    }

    public async Task<PartitionReport> RunAsync(string table, PartitionTableSettings config, DateTimeOffset now, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await ExecuteAsync(connection, tx, $"set local lock_timeout = {(long)settings.LockTimeout.TotalMilliseconds}; set local timezone = 'UTC'", ct);
        await using (var lockCommand = new NpgsqlCommand("select pg_advisory_xact_lock(hashtext('jobsd:partitions:' || @table))", connection, tx))
        {
            lockCommand.Parameters.AddWithValue("table", table);
            await lockCommand.ExecuteNonQueryAsync(ct);
        }
        var (schema, name) = await ResolveAsync(connection, tx, table, config.Column, ct);
        var parent = Ident(schema) + "." + Ident(name);
        var column = Ident(config.Column);
        var partitions = await PartitionsAsync(connection, tx, schema, name, ct);

        var created = new List<string>();
        var retired = new List<string>();
        long moved = 0;
        var fallback = partitions.FirstOrDefault(p => p.IsDefault);
        if (fallback is null)
        {
            fallback = new Partition(name + "_default", null, null);
            await ExecuteAsync(connection, tx, $"create table {Ident(schema)}.{Ident(fallback.Name)} partition of {parent} default", ct);
            created.Add(fallback.Name);
        }
        var defaultTable = Ident(schema) + "." + Ident(fallback.Name);

        var current = Start(now.UtcDateTime, config.Interval);
        DateTime? cutoff = config.Retention is { } retention ? now.UtcDateTime - retention : null;
        var wanted = new SortedSet<DateTime>();
        for (var i = -config.Behind; i <= config.Premake; i++) wanted.Add(Add(current, config.Interval, i));
        // Rows parked in the default partition (backfills, clocks far ahead) get their own partition.
        var unit = config.Interval == PartitionInterval.Monthly ? "month" : "day";
        await using (var parked = new NpgsqlCommand(
            $"select distinct date_trunc('{unit}', {column} at time zone 'UTC') from {defaultTable} where {column} is not null", connection, tx))
        await using (var reader = await parked.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct)) wanted.Add(DateTime.SpecifyKind(reader.GetDateTime(0), DateTimeKind.Utc));
        }

        foreach (var from in wanted)
        {
            var to = Add(from, config.Interval, 1);
            if (cutoff is { } c && to <= c) continue; // would be retired at once: leave such rows where they are (reported below)
            if (partitions.Any(p => !p.IsDefault && p.From < to && from < p.To)) continue; // covered (possibly by a partition someone made by hand)
            var partitionName = PartitionName(name, from, config.Interval);
            var target = Ident(schema) + "." + Ident(partitionName);
            var bounds = $"for values from ({Literal(from)}) to ({Literal(to)})";
            var range = $"{column} >= {Literal(from)} and {column} < {Literal(to)}";
            var rows = await ScalarAsync(connection, tx, $"select count(*) from {defaultTable} where {range}", ct);
            if (rows == 0)
            {
                await ExecuteAsync(connection, tx, $"create table {target} partition of {parent} {bounds}", ct);
            }
            else
            {
                // Move, then attach, in this one transaction: no row is lost or seen twice.
                await ExecuteAsync(connection, tx, $"""
                    create table {target} (like {parent} including defaults including constraints including storage including comments);
                    insert into {target} select * from {defaultTable} where {range};
                    delete from {defaultTable} where {range};
                    alter table {parent} attach partition {target} {bounds};
                    """, ct);
                moved += rows;
            }
            partitions.Add(new Partition(partitionName, from, to));
            created.Add(partitionName);
        }

        long stuck = 0;
        if (cutoff is { } limit)
        {
            foreach (var old in partitions.Where(p => !p.IsDefault && p.To <= limit && p.From < current).ToList())
            {
                var target = Ident(schema) + "." + Ident(old.Name);
                await ExecuteAsync(connection, tx, $"alter table {parent} detach partition {target}", ct);
                if (config.RetentionAction == RetentionAction.Drop) await ExecuteAsync(connection, tx, $"drop table {target}", ct);
                retired.Add(old.Name);
            }
            stuck = await ScalarAsync(connection, tx, $"select count(*) from {defaultTable} where {column} < {Literal(limit)}", ct);
        }
        if (created.Count > 0 || retired.Count > 0) await ExecuteAsync(connection, tx, $"analyze {parent}", ct);
        await tx.CommitAsync(ct);

        Stuck[table] = stuck;
        if (stuck > 0) RowsStuck(logger, table, stuck);
        if (created.Count > 0 || retired.Count > 0)
        {
            Changed(logger, table, string.Join(", ", created.DefaultIfEmpty("none")), moved, string.Join(", ", retired.DefaultIfEmpty("none")), config.RetentionAction.ToString().ToLowerInvariant());
        }
        return new PartitionReport(table, created, moved, retired, stuck);
    }

    /// <summary>The table's schema and name, after checking it is range-partitioned on the column; otherwise a permanent error naming what is wrong.</summary>
    private static async Task<(string Schema, string Name)> ResolveAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string table, string column, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            select n.nspname, c.relname, c.relkind::text, pt.partstrat::text,
                   (select a.attname from pg_attribute a where a.attrelid = c.oid and a.attnum = pt.partattrs[0]),
                   pt.partnatts
            from pg_class c
            join pg_namespace n on n.oid = c.relnamespace
            left join pg_partitioned_table pt on pt.partrelid = c.oid
            where c.oid = to_regclass(@table)
            """, connection, tx);
        command.Parameters.AddWithValue("table", table);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) throw new JobPermanentException($"partitions: table {table} does not exist");
        var (schema, name, kind) = (reader.GetString(0), reader.GetString(1), reader.GetString(2));
        if (kind != "p") throw new JobPermanentException($"partitions: table {table} is not partitioned (create it with PARTITION BY RANGE ({column}))");
        if (reader.GetString(3) != "r") throw new JobPermanentException($"partitions: table {table} is not range-partitioned");
        var key = reader.IsDBNull(4) ? "(an expression)" : reader.GetString(4);
        if (reader.GetInt16(5) != 1 || key != column) throw new JobPermanentException($"partitions: table {table} is partitioned on {key}, not on the configured column {column}");
        return (schema, name);
    }

    private static async Task<List<Partition>> PartitionsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string schema, string name, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            select c.relname, pg_get_expr(c.relpartbound, c.oid)
            from pg_inherits i
            join pg_class c on c.oid = i.inhrelid
            join pg_class p on p.oid = i.inhparent
            join pg_namespace n on n.oid = p.relnamespace
            where n.nspname = @schema and p.relname = @name
            """, connection, tx);
        command.Parameters.AddWithValue("schema", schema);
        command.Parameters.AddWithValue("name", name);
        var list = new List<Partition>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var bound = reader.GetString(1);
            if (bound == "DEFAULT")
            {
                list.Add(new Partition(reader.GetString(0), null, null));
                continue;
            }
            var m = Bounds().Match(bound);
            if (!m.Success) continue; // MINVALUE/MAXVALUE bounds made by hand: not ours to manage
            list.Add(new Partition(reader.GetString(0), ParseBound(m.Groups[1].Value), ParseBound(m.Groups[2].Value)));
        }
        return list;
    }

    public static DateTime Start(DateTime utc, PartitionInterval interval) => interval == PartitionInterval.Monthly
        ? new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc)
        : new DateTime(utc.Year, utc.Month, utc.Day, 0, 0, 0, DateTimeKind.Utc);

    public static DateTime Add(DateTime start, PartitionInterval interval, int n) => interval == PartitionInterval.Monthly ? start.AddMonths(n) : start.AddDays(n);

    public static string PartitionName(string table, DateTime from, PartitionInterval interval) => interval == PartitionInterval.Monthly
        ? $"{table}_{from:yyyy}_{from:MM}"
        : $"{table}_{from:yyyy}_{from:MM}_{from:dd}";

    private static DateTime ParseBound(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).UtcDateTime;

    /// <summary>A quoted identifier (names were validated; quoting keeps them exact).</summary>
    private static string Ident(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>A timestamptz literal for a bound this code computed.</summary>
    private static string Literal(DateTime utc) => $"'{utc.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}+00'::timestamptz";

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection, tx);
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection, tx);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    [GeneratedRegex(@"^FOR VALUES FROM \('([^']+)'\) TO \('([^']+)'\)$")]
    private static partial Regex Bounds();

    [LoggerMessage(EventId = 7101, Level = LogLevel.Information, Message = "Partitions of {Table}: created {Created} ({Moved} rows moved out of the default partition); retired ({Action}) {Retired}")]
    private static partial void Changed(ILogger logger, string table, string created, long moved, string retired, string action);

    [LoggerMessage(EventId = 7102, Level = LogLevel.Warning, Message = "Partitions of {Table}: {Rows} rows in the default partition are older than the retention and were not moved; delete or archive them")]
    private static partial void RowsStuck(ILogger logger, string table, long rows);
}
