using System.CommandLine;
using Jobsd.Jobs.Reaping;
using Microsoft.Extensions.Logging.Abstractions;

namespace Jobsd.Daemon.Cli;

/// <summary><c>jobsd reap [--dry-run]</c>: one reaper run now, or (dry) what it would reap, touching nothing.</summary>
public static class ReapCommand
{
    private static readonly Option<bool> DryRun = new("--dry-run") { Description = "Print what would be reaped; change nothing" };

    public static Command Create()
    {
        var command = new Command("reap", "Run the reaper once (stale environments and agents, dead refresh tokens, old build logs)") { DryRun };
        command.SetAction((parse, ct) => JobsCommand.WithCliAsync(parse, async cli =>
        {
            var dry = parse.GetValue(DryRun);
            var reaper = new Reaper(cli.DataSource, cli.Settings.Reaper, cli.Settings.Builds, NullLogger<Reaper>.Instance);
            var counts = await reaper.RunAsync(DateTimeOffset.UtcNow, dry, ct);
            Console.WriteLine(dry ? "would reap (dry run, nothing changed):" : "reaped:");
            Console.WriteLine($"  environments       {counts.Environments}{(cli.Settings.Reaper.ReapEnvironments ? "" : " (off)")}");
            Console.WriteLine($"  agent connections  {counts.Agents}{(cli.Settings.Reaper.ReapAgents ? "" : " (off)")}");
            Console.WriteLine($"  abandoned builds   {counts.AbandonedBuilds}{(cli.Settings.Reaper.ReapAbandonedBuilds ? "" : " (off)")}");
            Console.WriteLine($"  refresh tokens     {counts.RefreshTokens}{(cli.Settings.Reaper.ReapRefreshTokens ? "" : " (off)")}");
            Console.WriteLine($"  build log lines    {counts.BuildLogs}{(cli.Settings.Reaper.ReapBuildLogs ? "" : " (off)")}");
            return 0;
        }));
        return command;
    }
}
