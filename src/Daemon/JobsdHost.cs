using Jobsd.Daemon.Api;
using Jobsd.Daemon.Configuration;
using Jobsd.Daemon.Dashboard;
using Microsoft.AspNetCore.HttpOverrides;
using Jobsd.Daemon.Health;
using Jobsd.Daemon.Logging;
using Jobsd.Daemon.Metrics;
using Jobsd.Daemon.Startup;
using Jobsd.Daemon.Systemd;
using Jobsd.Daemon.Web;
using Jobsd.Data;
using Jobsd.Data.Migrations;
using Jobsd.Queue;
using Jobsd.Queue.Health;
using Jobsd.Queue.Recurring;
using Jobsd.Jobs.Builds;
using Jobsd.Jobs.Partitions;
using Jobsd.Jobs.Tokens;
using Jobsd.Jobs.Reaping;
using Npgsql;
using Serilog.Extensions.Logging;

namespace Jobsd.Daemon;

/// <summary>Composes the jobsd process: configuration, logging, database, engine, web and systemd integration.</summary>
public static partial class JobsdHost
{
    public static readonly string Version =
        typeof(JobsdHost).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <param name="settings">Validated settings (see <see cref="JobsdSettings.Load"/>).</param>
    /// <param name="logOutput">Where log lines go; the console when null (tests capture them).</param>
    public static WebApplication Build(JobsdSettings settings, TextWriter? logOutput = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        // Only jobsd's documented sources, in their documented order (ConfigurationSources).
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddConfiguration(settings.Configuration);
        builder.WebHost.UseUrls(settings.Urls);
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);

        builder.Logging.ClearProviders();
        builder.Logging.AddConfiguration(settings.Configuration.GetSection("Logging"));
        builder.Logging.AddProvider(new SerilogLoggerProvider(LoggerFactoryBuilder.Create(settings.Logging, SecretRedactor.From(settings.Configuration), logOutput), dispose: true));

        AddServices(builder.Services, settings);

        var app = builder.Build();
        var kindProblems = settings.Queue.ApplyKindOverrides(app.Services.GetRequiredService<JobRegistry>());
        var recurringProblems = app.Services.GetRequiredService<RecurringCatalog>().Validate(app.Services.GetRequiredService<JobRegistry>());
        if (kindProblems.Count > 0 || recurringProblems.Count > 0) throw new ConfigurationException([.. kindProblems, .. recurringProblems]);
        // Listening starts now, so no measurement before the first scrape is lost.
        app.Services.GetRequiredService<PrometheusExporter>();
        if (settings.TrustedProxies.Count > 0)
        {
            var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedPrefix };
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in settings.TrustedProxies) forwarded.KnownProxies.Add(proxy);
            app.UseForwardedHeaders(forwarded);
        }
        app.UseMiddleware<RequestLoggingMiddleware>();
        app.MapJobsdHealth();
        app.MapGet("/metrics", (PrometheusExporter exporter) => Results.Text(exporter.Scrape(), "text/plain; version=0.0.4; charset=utf-8"));
        app.MapJobsdApi();
        app.MapGet("/api/openapi.json", () => Results.Text(ApiEndpoints.OpenApiDocument, "application/json; charset=utf-8"));
        app.MapJobsdDashboard(settings.Dashboard);

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Jobsd.Daemon");
        Starting(logger, Version, PostgresDataSource.SafeDescription(settings.Database.ConnectionString), settings.Urls,
            string.Join(", ", settings.Files), settings.Logging.Effective(Environment.GetEnvironmentVariable).ToString().ToLowerInvariant(), settings.Database.MigrateOnStart);
        foreach (var warning in settings.Warnings) ConfigurationWarning(logger, warning);
        if (settings.Dashboard.Access == Dashboard.DashboardAccess.Open)
        {
            ConfigurationWarning(logger, "Dashboard:Access is open: anyone who can reach " + settings.Urls + " can see and steer every job" + (settings.Dashboard.ReadOnly ? " (read-only)" : ""));
        }
        return app;
    }

    private static void AddServices(IServiceCollection services, JobsdSettings settings)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(settings.Database);
        services.AddSingleton<DatabaseReadiness>();
        services.AddSingleton(_ => PostgresDataSource.Create(settings.Database.ConnectionString, settings.Database.Password, "jobsd"));
        services.AddSingleton<IScriptSource>(settings.Database.ScriptsPath is { Length: > 0 } path ? new FolderScriptSource(path) : new EmbeddedScriptSource());
        services.AddSingleton<MigrationRunner>();
        services.AddSingleton<LoopHealth>();
        services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.Queue.ShutdownTimeout + TimeSpan.FromSeconds(20));
        var listen = settings.ListenConnectionString is { } l ? PostgresDataSource.Create(l, settings.Database.Password, "jobsd-listen") : null;
        services.AddJobsdQueue(settings.Queue, listen);
        // Job families first: their code-defined recurring jobs take their names before configuration's.
        services.AddJobsdPartitions(settings.Partitions);
        services.AddJobsdReaper(settings.Reaper);
        services.AddJobsdBuilds(settings.Builds);
        services.AddJobsdTokens(settings.TokenRefresh, settings.Encryption);
        var catalog = QueueServiceCollectionExtensions.Catalog(services);
        foreach (var definition in settings.Recurring)
        {
            if (catalog.All.Any(d => d.Name == definition.Name))
            {
                throw new ConfigurationException([$"Recurring:{definition.Name}: a recurring job of that name is already defined in code; pick another name"]);
            }
            catalog.Add(definition);
        }
        services.AddSingleton(new SystemdNotifier(Environment.GetEnvironmentVariable));

        services.AddSingleton<PrometheusExporter>();
        services.AddSingleton(settings.Api);
        services.AddSingleton(settings.Dashboard);
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "jobsd_antiforgery";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.FormFieldName = "__token";
            o.SuppressXFrameOptionsHeader = true; // the dashboard sets its own, stricter headers
        });
        services.AddSingleton<ApiKeys>();
        services.AddProblemDetails();
        services.AddHostedService<DatabaseBootstrapper>();
        services.AddHostedService<SystemdNotifyService>();
        services.AddJobsdHealthChecks();
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information,
        Message = "jobsd {Version} starting; database {Database}; urls {Urls}; configuration {Files}; log format {Format}; migrate on start {MigrateOnStart}")]
    private static partial void Starting(ILogger logger, string version, string database, string urls, string files, string format, bool migrateOnStart);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Configuration: {Warning}")]
    private static partial void ConfigurationWarning(ILogger logger, string warning);
}
