using Jobsd.Data;
using Jobsd.Data.Migrations;
using Npgsql;

namespace Jobsd.Daemon.Startup;

/// <summary>
/// Brings the database to a usable state before the engine touches it: reaches it, migrates
/// (or, with <c>Database:MigrateOnStart=false</c>, waits until someone else has), then opens
/// <see cref="DatabaseReadiness"/>. Unreachable databases are retried with backoff and the
/// reason is logged; a failing migration script is not retried: it stops jobsd with exit code 1.
/// </summary>
public sealed partial class DatabaseBootstrapper(
    MigrationRunner migrator,
    DatabaseOptions options,
    DatabaseReadiness readiness,
    IHostApplicationLifetime lifetime,
    ILogger<DatabaseBootstrapper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        var attempt = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            attempt++;
            try
            {
                if (options.MigrateOnStart)
                {
                    readiness.Waiting("migrating");
                    var plan = await migrator.MigrateAsync(dryRun: false, stoppingToken);
                    Migrated(logger, plan.Pending.Count);
                    readiness.MarkReady();
                    return;
                }
                var current = await migrator.PlanAsync(stoppingToken);
                if (current.IsCurrent)
                {
                    readiness.MarkReady();
                    return;
                }
                readiness.Waiting($"schema not current ({current.Pending.Count} scripts pending); run jobsd migrate");
                SchemaNotCurrent(logger, string.Join(", ", current.Pending.Select(p => p.Script.Path).Concat(current.ChangedOneTimeScripts.Select(s => s.Path + " (changed)"))));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (MigrationException e)
            {
                readiness.Waiting("migration failed: " + e.Message);
                MigrationFailed(logger, e.Message);
                Environment.ExitCode = 1;
                lifetime.StopApplication();
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
            {
                var reason = Describe(e);
                readiness.Waiting("waiting for database: " + reason);
                // Quiet while it is a blip; louder the longer it lasts.
                if (attempt <= 3) DatabaseUnavailable(logger, reason, delay.TotalSeconds);
                else DatabaseStillUnavailable(logger, attempt, reason, delay.TotalSeconds);
            }
            try
            {
                await Task.Delay(delay, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.MaxStartupRetryDelay.Ticks));
        }
    }

    /// <summary>The innermost useful message: "password authentication failed", "Connection refused".</summary>
    internal static string Describe(Exception e) => e switch
    {
        PostgresException pg => $"{pg.SqlState}: {pg.MessageText}",
        NpgsqlException { InnerException: { } inner } => inner.Message,
        _ => e.Message,
    };

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Database schema is current ({Scripts} scripts ran)")]
    private static partial void Migrated(ILogger logger, int scripts);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Database unavailable: {Reason}; retrying in {Delay}s")]
    private static partial void DatabaseUnavailable(ILogger logger, string reason, double delay);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "Database still unavailable after {Attempts} attempts: {Reason}; retrying in {Delay}s")]
    private static partial void DatabaseStillUnavailable(ILogger logger, int attempts, string reason, double delay);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Database schema is not current and Database:MigrateOnStart is false; waiting for `jobsd migrate`. Pending: {Pending}")]
    private static partial void SchemaNotCurrent(ILogger logger, string pending);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Critical, Message = "Migration failed, stopping: {Error}")]
    private static partial void MigrationFailed(ILogger logger, string error);
}
