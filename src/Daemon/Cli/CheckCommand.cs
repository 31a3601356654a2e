using System.CommandLine;
using Jobsd.Daemon.Configuration;
using Npgsql;

namespace Jobsd.Daemon.Cli;

/// <summary>
/// <c>jobsd check</c>: is this node ready to run? One line per finding (configuration, database,
/// migrations); exit 0 when all is well, 1 otherwise. Safe to run beside a live daemon.
/// </summary>
public static class CheckCommand
{
    public static Command Create()
    {
        var command = new Command("check", "Check configuration, database reachability and pending migrations");
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken ct)
    {
        JobsdSettings settings;
        try
        {
            settings = JobsdSettings.Load(parse.GetValue(CommonOptions.Config), CommonOptions.Overrides(parse));
        }
        catch (ConfigurationException e)
        {
            foreach (var problem in e.Problems) Console.WriteLine($"FAIL configuration: {problem}");
            return 1;
        }
        Console.WriteLine($"ok   configuration: {string.Join(", ", settings.Files.DefaultIfEmpty("defaults and environment"))}");
        foreach (var warning in settings.Warnings) Console.WriteLine($"warn configuration: {warning}");

        await using var cli = CliContext.Open(parse)!;
        try
        {
            await using var command = cli.DataSource.CreateCommand("select current_setting('server_version')");
            var version = await command.ExecuteScalarAsync(ct);
            Console.WriteLine($"ok   database: {cli.Database} reachable (PostgreSQL {version})");
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            Console.WriteLine($"FAIL database: {cli.Unreachable(e)}");
            return 1;
        }

        var plan = await cli.Migrator(quiet: true).PlanAsync(ct);
        foreach (var changed in plan.ChangedOneTimeScripts)
        {
            Console.WriteLine($"FAIL migrations: one-time script {changed.Path} changed after it ran");
        }
        foreach (var pending in plan.Pending) Console.WriteLine($"FAIL migrations: pending {pending}");
        if (plan.IsCurrent) Console.WriteLine("ok   migrations: current");
        return plan.IsCurrent ? 0 : 1;
    }
}
