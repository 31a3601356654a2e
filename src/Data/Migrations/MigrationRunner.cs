using System.Data;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Data.Migrations;

/// <summary>
/// Runs the <c>db/</c> scripts in roundhouse's conventions. Guarantees: a one-time script runs
/// once and a changed one is refused before anything runs; each script runs in its own
/// transaction (except <c>*.notx.sql</c>) and is recorded in that transaction, so a crash
/// leaves either the script and its record or neither; concurrent migrators (several nodes
/// starting together) are serialised by a session advisory lock.
/// </summary>
public sealed partial class MigrationRunner(NpgsqlDataSource dataSource, IScriptSource source, ILogger<MigrationRunner> logger)
{
    /// <summary>Arbitrary but fixed: "jobsdmig" as bytes, so it cannot collide with the engine's keys.</summary>
    internal const long AdvisoryLockKey = 0x6A6F6273646D6967;

    private static readonly string Version =
        typeof(MigrationRunner).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Runs what is due (or, with <paramref name="dryRun"/>, only plans it). Returns the plan it followed.</summary>
    public async Task<MigrationPlan> MigrateAsync(bool dryRun, CancellationToken ct)
    {
        var scripts = source.Load();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "select pg_advisory_lock(@key)", new { key = AdvisoryLockKey }, cancellationToken: ct));
        try
        {
            if (!dryRun) await EnsureTrackingSchemaAsync(connection, ct);
            var plan = await PlanAsync(connection, scripts, ct);
            if (plan.ChangedOneTimeScripts.Count > 0)
            {
                throw new MigrationException(ChangedOneTimeMessage(plan.ChangedOneTimeScripts));
            }
            if (dryRun || plan.Scripts.Count == 0) return plan;

            var versionId = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                "insert into migrations.version (version) values (@Version) returning id", new { Version }, cancellationToken: ct));
            foreach (var planned in plan.Scripts)
            {
                await RunScriptAsync(connection, versionId, planned.Script, ct);
                if (planned.Reason != PlanReason.EveryTime) ScriptRan(logger, planned.Script.Path, planned.Reason.ToString().ToLowerInvariant());
            }
            return plan;
        }
        finally
        {
            if (connection.State == ConnectionState.Open)
            {
                await connection.ExecuteAsync("select pg_advisory_unlock(@key)", new { key = AdvisoryLockKey });
            }
        }
    }

    /// <summary>What a migration would do now, read without taking the lock (for readiness and <c>jobsd check</c>).</summary>
    public async Task<MigrationPlan> PlanAsync(CancellationToken ct)
    {
        var scripts = source.Load();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await PlanAsync(connection, scripts, ct);
    }

    private static async Task<MigrationPlan> PlanAsync(NpgsqlConnection connection, IReadOnlyList<MigrationScript> scripts, CancellationToken ct)
    {
        var ran = await LastHashesAsync(connection, ct);
        var planned = new List<PlannedScript>();
        var changedOneTime = new List<MigrationScript>();
        foreach (var script in scripts)
        {
            var known = ran.TryGetValue(script.Path, out var hash);
            switch (script.Kind)
            {
                case ScriptKind.EveryTime:
                    planned.Add(new PlannedScript(script, PlanReason.EveryTime));
                    break;
                case ScriptKind.OneTime when !known:
                case ScriptKind.AnyTime when !known:
                    planned.Add(new PlannedScript(script, PlanReason.New));
                    break;
                case ScriptKind.OneTime when hash != script.Hash:
                    changedOneTime.Add(script);
                    break;
                case ScriptKind.AnyTime when hash != script.Hash:
                    planned.Add(new PlannedScript(script, PlanReason.Changed));
                    break;
            }
        }
        return new MigrationPlan(planned, changedOneTime);
    }

    private static async Task<Dictionary<string, string>> LastHashesAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var exists = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "select to_regclass('migrations.scripts_run') is not null", cancellationToken: ct));
        if (!exists) return [];
        var rows = await connection.QueryAsync<(string Folder, string Name, string Hash)>(new CommandDefinition(
            """
            select distinct on (folder, name) folder, name, hash
            from migrations.scripts_run
            order by folder, name, id desc
            """, cancellationToken: ct));
        return rows.ToDictionary(r => $"{r.Folder}/{r.Name}", r => r.Hash);
    }

    private static Task EnsureTrackingSchemaAsync(NpgsqlConnection connection, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            create schema if not exists migrations;
            create table if not exists migrations.version (
                id bigint generated always as identity primary key,
                version text not null,
                run_at timestamptz not null default now(),
                run_by text not null default current_user
            );
            create table if not exists migrations.scripts_run (
                id bigint generated always as identity primary key,
                version_id bigint not null references migrations.version (id),
                folder text not null,
                name text not null,
                hash text not null,
                one_time boolean not null,
                text_of_script text not null,
                run_at timestamptz not null default now()
            );
            create index if not exists scripts_run_folder_name_idx on migrations.scripts_run (folder, name, id desc);
            create table if not exists migrations.scripts_run_errors (
                id bigint generated always as identity primary key,
                version_id bigint references migrations.version (id),
                folder text not null,
                name text not null,
                error text not null,
                sql_state text,
                position integer,
                line integer,
                text_of_script text not null,
                at timestamptz not null default now()
            );
            """, cancellationToken: ct));

    private async Task RunScriptAsync(NpgsqlConnection connection, long versionId, MigrationScript script, CancellationToken ct)
    {
        var statements = SqlStatementSplitter.Split(script.Text);
        NpgsqlTransaction? transaction = script.RunsOutsideTransaction ? null : await connection.BeginTransactionAsync(ct);
        SqlStatement current = default;
        try
        {
            foreach (var statement in statements)
            {
                current = statement;
                await using var command = new NpgsqlCommand(statement.Text, connection, transaction);
                // Migrations may rebuild large tables; the lock already keeps other nodes out.
                command.CommandTimeout = 0;
                await command.ExecuteNonQueryAsync(ct);
            }
            current = default;
            await connection.ExecuteAsync(new CommandDefinition(
                """
                insert into migrations.scripts_run (version_id, folder, name, hash, one_time, text_of_script)
                values (@versionId, @Folder, @Name, @Hash, @oneTime, @Text)
                """,
                new { versionId, script.Folder, script.Name, script.Hash, oneTime = script.Kind == ScriptKind.OneTime, script.Text },
                transaction, cancellationToken: ct));
            if (transaction is not null) await transaction.CommitAsync(ct);
        }
        catch (PostgresException error)
        {
            if (transaction is not null) await transaction.RollbackAsync(CancellationToken.None);
            var offset = current.Offset + Math.Max(error.Position - 1, 0);
            var (line, column) = SqlStatementSplitter.LineAndColumn(script.Text, offset);
            await RecordErrorAsync(connection, versionId, script, error, line);
            ScriptFailed(logger, script.Path, line, column, error.SqlState, error.MessageText);
            throw new MigrationException(
                $"Migration script {script.Path} failed at line {line}, column {column}: {error.SqlState}: {error.MessageText}"
                + (script.RunsOutsideTransaction ? " (a .notx script: statements before this one stay applied)" : " (its transaction was rolled back; nothing after it ran)"),
                error);
        }
        finally
        {
            if (transaction is not null) await transaction.DisposeAsync();
        }
    }

    private static Task RecordErrorAsync(NpgsqlConnection connection, long versionId, MigrationScript script, PostgresException error, int line) =>
        connection.ExecuteAsync(
            """
            insert into migrations.scripts_run_errors (version_id, folder, name, error, sql_state, position, line, text_of_script)
            values (@versionId, @Folder, @Name, @error, @sqlState, @position, @line, @Text)
            """,
            new { versionId, script.Folder, script.Name, error = error.MessageText, sqlState = error.SqlState, position = error.Position, line, script.Text });

    private static string ChangedOneTimeMessage(IReadOnlyList<MigrationScript> changed) =>
        "One-time migration scripts changed after they ran; nothing was run. Put the change in a new script in db/up instead: "
        + string.Join(", ", changed.Select(s => s.Path));

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Migration script {Script} ran ({Reason})")]
    private static partial void ScriptRan(ILogger logger, string script, string reason);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Migration script {Script} failed at line {Line}, column {Column}: {SqlState} {Error}")]
    private static partial void ScriptFailed(ILogger logger, string script, int line, int column, string sqlState, string error);
}
