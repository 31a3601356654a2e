namespace Jobsd.Daemon.Tests;

/// <summary>Configuration jobsd cannot run with stops it before anything starts, with exit code 78 and the key named.</summary>
public sealed class ConfigurationErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("jobsd-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string ConfigFile(string json)
    {
        var path = Path.Combine(_dir, "appsettings.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void An_array_comes_whole_from_the_last_source_that_sets_it_never_merged_by_index()
    {
        // The shipped appsettings.json has a ten-element Builds:Command; this file sets three, the overrides two.
        var file = ConfigFile("""{ "Builds": { "Command": [ "make", "image", "TAG={image_tag}" ], "Environment": [ "PATH" ] }, "Reaper": { "TerminateCommand": [] } }""");
        var fromFile = Configuration.JobsdSettings.Load(file, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = "Host=localhost" });
        Assert.Equal(["make", "image", "TAG={image_tag}"], fromFile.Builds.Command);
        Assert.Equal(["PATH"], fromFile.Builds.Environment);
        Assert.Empty(fromFile.Reaper.TerminateCommand);

        var overridden = Configuration.JobsdSettings.Load(file, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "Host=localhost",
            ["Builds:Command:0"] = "/usr/local/bin/build",
            ["Builds:Command:1"] = "{build_job_id}",
        });
        Assert.Equal(["/usr/local/bin/build", "{build_job_id}"], overridden.Builds.Command);

        var shipped = Configuration.JobsdSettings.Load(null, new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = "Host=localhost" });
        Assert.Equal(new Jobs.Builds.BuildSettings().Command, shipped.Builds.Command);
    }

    [Fact]
    public async Task Malformed_json_names_the_file()
    {
        var file = ConfigFile("{ \"Urls\": \"http://127.0.0.1:0\", ");
        var (code, _, stderr) = await JobsdProcess.RunAsync(["run", "--config", file]);
        Assert.Equal(78, code);
        Assert.Contains(file, stderr);
    }

    [Theory]
    [InlineData("JOBSD_Logging__Format", "xml", "Logging:Format: 'xml' is not a valid value (one of: auto, text, json, journald)")]
    [InlineData("JOBSD_Urls", "ftp://somewhere", "Urls: 'ftp://somewhere' is not a valid listen address")]
    [InlineData("JOBSD_Database__MigrateOnStart", "sometimes", "Database:MigrateOnStart: 'sometimes' is not a valid boolean")]
    [InlineData("JOBSD_Database__MigrateOnStrat", "false", "Database:MigrateOnStrat: unknown setting (did you mean 'MigrateOnStart'?)")]
    [InlineData("JOBSD_ConnectionStrings__Postgres", "Hots=localhost", "ConnectionStrings:Postgres:")]
    [InlineData("JOBSD_Logging__LogLevel__Npgsql", "Loud", "Logging:LogLevel:Npgsql: 'Loud' is not a level")]
    public async Task A_bad_setting_exits_78_naming_the_key(string variable, string value, string expected)
    {
        var (code, stdout, stderr) = await JobsdProcess.RunAsync(["run"], new Dictionary<string, string?>
        {
            [variable] = value,
            ["NOTIFY_SOCKET"] = null,
        });
        Assert.Equal(78, code);
        Assert.Contains(expected, stderr);
        Assert.DoesNotContain("listening", stdout, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Every_problem_is_reported_not_only_the_first()
    {
        var (code, _, stderr) = await JobsdProcess.RunAsync(["run"], new Dictionary<string, string?>
        {
            ["JOBSD_Logging__Format"] = "xml",
            ["JOBSD_Urls"] = "nonsense",
        });
        Assert.Equal(78, code);
        Assert.Contains("Logging:Format", stderr);
        Assert.Contains("Urls", stderr);
    }

    [Fact]
    public async Task A_missing_config_file_is_named()
    {
        var check = await JobsdProcess.RunAsync(["check", "--config", "/nonexistent/jobsd.json"]);
        Assert.Equal(1, check.ExitCode);
        Assert.Contains("FAIL configuration: --config: file '/nonexistent/jobsd.json' does not exist", check.Stdout);
        var run = await JobsdProcess.RunAsync(["run", "--config", "/nonexistent/jobsd.json"]);
        Assert.Equal(78, run.ExitCode);
        Assert.Contains("/nonexistent/jobsd.json", run.Stderr);
    }

    [Fact]
    public async Task Prints_help_and_version()
    {
        var help = await JobsdProcess.RunAsync(["--help"]);
        Assert.Equal(0, help.ExitCode);
        foreach (var verb in new[] { "run", "migrate", "check" }) Assert.Contains(verb, help.Stdout);
        var version = await JobsdProcess.RunAsync(["--version"]);
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Stdout.Trim());
    }
}
