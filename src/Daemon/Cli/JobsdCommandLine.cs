using System.CommandLine;

namespace Jobsd.Daemon.Cli;

/// <summary>The <c>jobsd</c> command line. Without a verb it runs the daemon.</summary>
public static class JobsdCommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand($"jobsd {JobsdHost.Version}: background jobs on PostgreSQL")
        {
            CommonOptions.Config,
            CommonOptions.Scripts,
            RunCommand.Create(),
            MigrateCommand.Create(),
            CheckCommand.Create(),
            EnqueueCommand.Create(),
            JobsCommand.Create(),
            QueuesCommand.Create(),
            RecurringCommand.Create(),
            ApiKeyCommand.Create(),
            DashboardPasswordCommand.Create(),
            ReapCommand.Create(),
            TokenCommands.Keys(),
            TokenCommands.Credentials(),
            TokenCommands.Secrets(),
        };
        root.SetAction(RunCommand.RunAsync);
        return root;
    }

    public static Task<int> InvokeAsync(string[] args) =>
        // The host handles SIGTERM/SIGINT itself (graceful stop within its shutdown timeout);
        // System.CommandLine's own handler would cut that short.
        // No response files: "@daily" is a cron macro, not a file of arguments.
        Build().Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null }).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
}
