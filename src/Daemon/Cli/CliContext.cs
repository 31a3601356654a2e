using System.CommandLine;
using Jobsd.Daemon.Configuration;
using Jobsd.Daemon.Logging;
using Jobsd.Data;
using Jobsd.Data.Migrations;
using Jobsd.Queue;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Serilog.Extensions.Logging;

namespace Jobsd.Daemon.Cli;

/// <summary>What a short-lived verb (migrate, check, enqueue …) needs: settings, a logger, the database.</summary>
public sealed class CliContext : IAsyncDisposable
{
    private readonly SerilogLoggerFactory _loggers;

    private CliContext(JobsdSettings settings)
    {
        Settings = settings;
        _loggers = new SerilogLoggerFactory(LoggerFactoryBuilder.Create(settings.Logging, SecretRedactor.From(settings.Configuration), Console.Error), dispose: true);
        DataSource = PostgresDataSource.Create(settings.Database.ConnectionString, settings.Database.Password, "jobsd-cli",
            b => b.Timeout = Math.Min(b.Timeout, 10));
    }

    public JobsdSettings Settings { get; }
    public NpgsqlDataSource DataSource { get; }
    public ILoggerFactory Loggers => _loggers;

    public JobClient Client => new(DataSource, new JobRegistry(), TimeProvider.System);

    public JobMonitor Monitor => new(DataSource);

    public Jobsd.Queue.Recurring.RecurringClient Recurring => new(DataSource, TimeProvider.System);

    public string Database => PostgresDataSource.SafeDescription(Settings.Database.ConnectionString);

    public MigrationRunner Migrator(bool quiet = false) => new(DataSource,
        Settings.Database.ScriptsPath is { Length: > 0 } path ? new FolderScriptSource(path) : new EmbeddedScriptSource(),
        quiet ? NullLogger<MigrationRunner>.Instance : _loggers.CreateLogger<MigrationRunner>());

    /// <summary>Loads settings; on invalid configuration prints one line per problem and returns null (exit 78).</summary>
    public static CliContext? Open(ParseResult parse)
    {
        var settings = LoadSettings(parse);
        return settings is null ? null : new CliContext(settings);
    }

    public static JobsdSettings? LoadSettings(ParseResult parse)
    {
        try
        {
            return JobsdSettings.Load(parse.GetValue(CommonOptions.Config), CommonOptions.Overrides(parse));
        }
        catch (ConfigurationException e)
        {
            ReportConfigurationProblems(e);
            return null;
        }
    }

    public static void ReportConfigurationProblems(ConfigurationException e)
    {
        foreach (var problem in e.Problems) Console.Error.WriteLine($"jobsd: invalid configuration: {problem}");
    }

    /// <summary>A one-line reason for a database failure, never containing the password.</summary>
    public string Unreachable(Exception e) => $"cannot reach database {Database}: {Startup.DatabaseBootstrapper.Describe(e)}";

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        _loggers.Dispose();
    }
}
