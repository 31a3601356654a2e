using Jobsd.Data;
using Jobsd.Queue;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Jobsd.Daemon.Configuration;

/// <summary>
/// Every setting jobsd reads, bound and validated in one place before anything starts.
/// <see cref="Load"/> throws <see cref="ConfigurationException"/> with one line per problem.
/// </summary>
public sealed class JobsdSettings
{
    public const string DefaultUrls = "http://127.0.0.1:8080";

    /// <summary>Top-level sections jobsd knows; a different one is reported as a likely typo.</summary>
    private static readonly string[] KnownSections =
        ["ConnectionStrings", "Database", "Logging", "Urls", "AllowedHosts", "Queue", "Recurring", "Api", "Dashboard", "Web", "Partitions", "Reaper", "Builds", "TokenRefresh", "Encryption"];

    public required IConfiguration Configuration { get; init; }
    public required IReadOnlyList<string> Files { get; init; }
    public required DatabaseOptions Database { get; init; }
    public required LoggingSettings Logging { get; init; }
    public required string Urls { get; init; }
    public required QueueOptions Queue { get; init; }

    public required ApiSettings Api { get; init; }
    public required Jobs.Partitions.PartitionSettings Partitions { get; init; }
    public required Jobs.Reaping.ReaperSettings Reaper { get; init; }
    public required Jobs.Builds.BuildSettings Builds { get; init; }
    public required Jobs.Tokens.TokenRefreshSettings TokenRefresh { get; init; }
    public required Jobs.Tokens.EncryptionSettings Encryption { get; init; }
    public required Dashboard.DashboardSettings Dashboard { get; init; }

    /// <summary><c>Web:TrustedProxies</c>: addresses whose X-Forwarded-For/-Proto/-Prefix are believed. Default: none.</summary>
    public required IReadOnlyList<System.Net.IPAddress> TrustedProxies { get; init; }

    /// <summary>Recurring jobs defined in configuration (<c>Recurring:{name}</c>). Default: none.</summary>
    public required IReadOnlyList<Jobsd.Queue.Recurring.RecurringDefinition> Recurring { get; init; }

    /// <summary><c>ConnectionStrings:PostgresListen</c>: a direct connection for LISTEN when the main one goes through a transaction pooler. Default: none (LISTEN on the main one).</summary>
    public string? ListenConnectionString { get; init; }

    /// <summary>Lines worth a warning that do not stop start-up (unknown top-level sections).</summary>
    public required IReadOnlyList<string> Warnings { get; init; }

    public static JobsdSettings Load(string? configPath, IDictionary<string, string?>? overrides = null)
    {
        var loaded = ConfigurationSources.Build(configPath, overrides);
        var configuration = loaded.Configuration;
        var problems = new List<string>();
        var warnings = new List<string>();

        foreach (var section in configuration.GetChildren())
        {
            if (!KnownSections.Contains(section.Key, StringComparer.OrdinalIgnoreCase))
            {
                warnings.Add($"{section.Key}: unknown section, ignored{SettingsBinder.Suggest(section.Key, KnownSections)}");
            }
        }

        var database = SettingsBinder.Bind<DatabaseOptions>(configuration, DatabaseOptions.Section, problems, nameof(DatabaseOptions.ConnectionString));
        database.ConnectionString = configuration.GetConnectionString("Postgres") ?? "";
        ValidateDatabase(database, problems);

        var logging = SettingsBinder.Bind<LoggingSettings>(configuration, LoggingSettings.Section, problems);
        foreach (var (category, level) in logging.LogLevel)
        {
            if (!Enum.TryParse<LogLevel>(level, ignoreCase: true, out _))
            {
                problems.Add($"Logging:LogLevel:{category}: '{level}' is not a level (one of: {string.Join(", ", Enum.GetNames<LogLevel>())})");
            }
        }

        var queue = SettingsBinder.Bind<QueueOptions>(configuration, QueueOptions.Section, problems);
        problems.AddRange(queue.Validate());
        var listen = configuration.GetConnectionString("PostgresListen");
        if (listen is { Length: > 0 })
        {
            try
            {
                PostgresDataSource.Describe(listen, null);
            }
            catch (ArgumentException e)
            {
                problems.Add($"ConnectionStrings:PostgresListen: {e.Message.Split('\n')[0]}");
            }
        }

        var recurring = RecurringSettings.Read(configuration, problems);
        // Bind, validate and (for a job family's schedule) parse the cron of one section.
        T Section<T>(string section, Func<T, IEnumerable<string>> validate, Func<T, string>? cron = null) where T : new()
        {
            var value = SettingsBinder.Bind<T>(configuration, section, problems);
            problems.AddRange(validate(value));
            if (cron is not null && !Jobsd.Queue.Recurring.CronSchedule.TryParse(cron(value), out _, out var cronError)) problems.Add($"{section}:Cron: {cronError}");
            return value;
        }
        var api = Section<ApiSettings>(ApiSettings.Section, a => a.Validate());
        var partitions = Section<Jobs.Partitions.PartitionSettings>(Jobs.Partitions.PartitionSettings.Section, p => p.Validate(), p => p.Cron);
        var reaper = Section<Jobs.Reaping.ReaperSettings>(Jobs.Reaping.ReaperSettings.Section, r => r.Validate(), r => r.Cron);
        var builds = Section<Jobs.Builds.BuildSettings>(Jobs.Builds.BuildSettings.Section, b => b.Validate());
        var tokens = Section<Jobs.Tokens.TokenRefreshSettings>(Jobs.Tokens.TokenRefreshSettings.Section, t => t.Validate(), t => t.Cron);
        var encryption = Section<Jobs.Tokens.EncryptionSettings>(Jobs.Tokens.EncryptionSettings.Section, e => e.Validate());
        var dashboard = Section<Dashboard.DashboardSettings>(Jobsd.Daemon.Dashboard.DashboardSettings.Section, d => d.Validate());
        var proxies = new List<System.Net.IPAddress>();
        foreach (var proxy in configuration.GetSection("Web:TrustedProxies").GetChildren())
        {
            if (System.Net.IPAddress.TryParse(proxy.Value, out var address)) proxies.Add(address);
            else problems.Add($"Web:TrustedProxies:{proxy.Key}: '{proxy.Value}' is not an IP address");
        }
        foreach (var key in configuration.GetSection("Web").GetChildren().Select(c => c.Key).Where(k => k != "TrustedProxies"))
        {
            problems.Add($"Web:{key}: unknown setting{SettingsBinder.Suggest(key, ["TrustedProxies"])}");
        }

        var urls = configuration["Urls"] is { Length: > 0 } configured ? configured : DefaultUrls;
        ValidateUrls(urls, problems);

        if (problems.Count > 0) throw new ConfigurationException(problems);
        return new JobsdSettings
        {
            Configuration = configuration,
            Files = loaded.Files,
            Database = database,
            Logging = logging,
            Urls = urls,
            Queue = queue,
            Recurring = recurring,
            Api = api,
            Partitions = partitions,
            Reaper = reaper,
            Builds = builds,
            TokenRefresh = tokens,
            Encryption = encryption,
            Dashboard = dashboard,
            TrustedProxies = proxies,
            ListenConnectionString = string.IsNullOrEmpty(listen) ? null : listen,
            Warnings = warnings,
        };
    }

    private static void ValidateDatabase(DatabaseOptions database, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(database.ConnectionString))
        {
            problems.Add("ConnectionStrings:Postgres: missing; set it in appsettings.json or JOBSD_ConnectionStrings__Postgres");
        }
        else
        {
            try
            {
                PostgresDataSource.Describe(database.ConnectionString, database.Password);
            }
            catch (ArgumentException e)
            {
                // Npgsql names the bad keyword; the value (maybe a password) is not repeated.
                problems.Add($"ConnectionStrings:Postgres: {e.Message.Split('\n')[0]}");
            }
        }
        if (database.MaxStartupRetryDelay <= TimeSpan.Zero)
        {
            problems.Add("Database:MaxStartupRetryDelay: must be positive");
        }
        if (database.ScriptsPath is { Length: > 0 } path && !Directory.Exists(path))
        {
            problems.Add($"Database:ScriptsPath: folder '{path}' does not exist");
        }
    }

    private static void ValidateUrls(string urls, List<string> problems)
    {
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Kestrel's own wildcard hosts (http://*:8080, http://+:8080) are not valid URIs but are valid here.
            var normalised = url.Replace("://*", "://0.0.0.0").Replace("://+", "://0.0.0.0");
            if (!Uri.TryCreate(normalised, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https") || string.IsNullOrEmpty(uri.Host))
            {
                problems.Add($"Urls: '{url}' is not a valid listen address (expected e.g. http://127.0.0.1:8080)");
            }
        }
    }
}
