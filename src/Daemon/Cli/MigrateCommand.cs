using System.CommandLine;
using Jobsd.Daemon.Configuration;
using Jobsd.Data.Migrations;
using Npgsql;

namespace Jobsd.Daemon.Cli;

/// <summary><c>jobsd migrate [--dry-run]</c>: bring the schema up to date, or show what that would run.</summary>
public static class MigrateCommand
{
    private static readonly Option<bool> DryRun = new("--dry-run") { Description = "Show what would run; change nothing" };

    public static Command Create()
    {
        var command = new Command("migrate", "Run pending migration scripts (db/up, functions, views, permissions)") { DryRun };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken ct)
    {
        await using var cli = CliContext.Open(parse);
        if (cli is null) return ConfigurationException.ExitCode;
        var dryRun = parse.GetValue(DryRun);
        try
        {
            var plan = await cli.Migrator().MigrateAsync(dryRun, ct);
            var verb = dryRun ? "would run" : "ran";
            foreach (var script in plan.Scripts) Console.WriteLine($"{verb} {script}");
            Console.WriteLine(plan.Pending.Count == 0
                ? $"schema of {cli.Database} is current"
                : $"{(dryRun ? "pending" : "applied")}: {plan.Pending.Count} scripts on {cli.Database}");
            return 0;
        }
        catch (MigrationException e)
        {
            await Console.Error.WriteLineAsync($"jobsd: migrate: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await Console.Error.WriteLineAsync($"jobsd: migrate: {cli.Unreachable(e)}");
            return 1;
        }
    }
}
