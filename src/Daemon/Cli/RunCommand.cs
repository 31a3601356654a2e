using System.CommandLine;
using Jobsd.Daemon.Configuration;

namespace Jobsd.Daemon.Cli;

/// <summary><c>jobsd run</c> (the default verb): the daemon. SIGTERM/SIGINT stop it gracefully with exit code 0.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var command = new Command("run", "Run the daemon: migrate (unless disabled), start the engine and the web endpoints (default)");
        command.SetAction(RunAsync);
        return command;
    }

    public static async Task<int> RunAsync(ParseResult parse, CancellationToken ct)
    {
        var settings = CliContext.LoadSettings(parse);
        if (settings is null) return ConfigurationException.ExitCode;
        WebApplication app;
        try
        {
            app = JobsdHost.Build(settings);
        }
        catch (ConfigurationException e)
        {
            CliContext.ReportConfigurationProblems(e);
            return ConfigurationException.ExitCode;
        }
        await using var _ = app;
        try
        {
            await app.RunAsync();
        }
        catch (IOException e) when (e.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
        {
            await Console.Error.WriteLineAsync($"jobsd: cannot listen on {settings.Urls}: {e.Message}");
            return 1;
        }
        return Environment.ExitCode;
    }
}
