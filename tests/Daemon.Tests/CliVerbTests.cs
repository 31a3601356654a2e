using Dapper;
using Jobsd.TestSupport;

namespace Jobsd.Daemon.Tests;

public sealed class CliVerbTests : IAsyncLifetime
{
    private TestDatabase _empty = null!;

    public async Task InitializeAsync() => _empty = await TestPostgres.CreateDatabaseAsync(migrated: false);

    public async Task DisposeAsync() => await _empty.DisposeAsync();

    private Dictionary<string, string?> Env(string connectionString) => new() { ["JOBSD_ConnectionStrings__Postgres"] = connectionString };

    [Fact]
    public async Task Check_fails_on_pending_migrations_and_passes_after_migrate()
    {
        var env = Env(_empty.ConnectionString);
        var before = await JobsdProcess.RunAsync(["check"], env);
        Assert.Equal(1, before.ExitCode);
        Assert.Contains("ok   database:", before.Stdout);
        Assert.Contains("FAIL migrations: pending up/0001_platform.sql (new)", before.Stdout);

        var dry = await JobsdProcess.RunAsync(["migrate", "--dry-run"], env);
        Assert.Equal(0, dry.ExitCode);
        Assert.Contains("would run up/0001_platform.sql (new)", dry.Stdout);
        await using (var c = await _empty.DataSource.OpenConnectionAsync())
        {
            Assert.False(await c.ExecuteScalarAsync<bool>("select to_regclass('public.teams') is not null"));
        }

        var migrate = await JobsdProcess.RunAsync(["migrate"], env);
        Assert.Equal(0, migrate.ExitCode);
        Assert.Contains("ran up/0001_platform.sql (new)", migrate.Stdout);

        var after = await JobsdProcess.RunAsync(["check"], env);
        Assert.Equal(0, after.ExitCode);
        Assert.Contains("ok   migrations: current", after.Stdout);
    }

    [Fact]
    public async Task Migrate_and_check_fail_with_one_line_when_the_password_is_wrong()
    {
        const string password = "Wr0ng-Pa55-For-Test";
        var env = Env(TestPostgres.TcpConnectionString(_empty.Name, password));

        var migrate = await JobsdProcess.RunAsync(["migrate"], env);
        Assert.Equal(1, migrate.ExitCode);
        var line = Assert.Single(migrate.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("password authentication failed", line);
        Assert.Contains($"jobsd@127.0.0.1:{TestPostgres.Port}/{_empty.Name}", line);

        var check = await JobsdProcess.RunAsync(["check"], env);
        Assert.Equal(1, check.ExitCode);
        Assert.Contains("FAIL database:", check.Stdout);
        Assert.DoesNotContain(password, migrate.Stdout + migrate.Stderr + check.Stdout + check.Stderr);
    }

    [Fact]
    public async Task Migrate_reads_scripts_from_a_folder_and_reports_a_failing_script()
    {
        var dir = Directory.CreateTempSubdirectory("jobsd-scripts-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "up"));
            File.WriteAllText(Path.Combine(dir, "up", "0001_ok.sql"), "create table ok (v int);");
            File.WriteAllText(Path.Combine(dir, "up", "0002_bad.sql"), "create table bad (v nosuchtype);");
            var result = await JobsdProcess.RunAsync(["migrate", "--scripts", dir], Env(_empty.ConnectionString));
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("up/0002_bad.sql failed at line 1", result.Stderr);
            Assert.Contains("42704", result.Stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Migrate_fails_with_one_line_when_nothing_listens()
    {
        var result = await JobsdProcess.RunAsync(["migrate"], Env("Host=127.0.0.1;Port=1;Database=x;Username=x;Timeout=3"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot reach database x@127.0.0.1:1/x", result.Stderr);
    }
}
