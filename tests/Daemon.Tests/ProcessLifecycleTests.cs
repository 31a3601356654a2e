using Jobsd.TestSupport;

namespace Jobsd.Daemon.Tests;

/// <summary>The real binary under the conditions systemd creates: notify socket, watchdog, signals.</summary>
public sealed class ProcessLifecycleTests : DatabaseTest
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private Dictionary<string, string?> Environment(NotifySocket? notify = null) => new()
    {
        ["JOBSD_ConnectionStrings__Postgres"] = Db.ConnectionString,
        ["JOBSD_Urls"] = "http://127.0.0.1:0",
        ["NOTIFY_SOCKET"] = notify?.Address,
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Tells_systemd_READY_after_start_and_STOPPING_on_SIGTERM_then_exits_0(bool abstractSocket)
    {
        using var notify = new NotifySocket(abstractSocket);
        await using var jobsd = JobsdProcess.Start(["run"], Environment(notify));

        var beforeReady = await notify.WaitForAsync("READY=1", Patience);
        Assert.Contains(beforeReady, m => m.StartsWith("STATUS=", StringComparison.Ordinal));
        jobsd.Signal("TERM");
        await notify.WaitForAsync("STOPPING=1", Patience);

        Assert.Equal(0, await jobsd.WaitForExitAsync(Patience));
        Assert.Equal(0, notify.Count("READY=1") - 1);
    }

    [Fact]
    public async Task SIGINT_also_stops_gracefully()
    {
        using var notify = new NotifySocket();
        await using var jobsd = JobsdProcess.Start(["run"], Environment(notify));
        await notify.WaitForAsync("READY=1", Patience);
        jobsd.Signal("INT");
        Assert.Equal(0, await jobsd.WaitForExitAsync(Patience));
        Assert.Equal(1, notify.Count("STOPPING=1"));
    }

    [Fact]
    public async Task Feeds_the_watchdog_repeatedly_while_alive()
    {
        using var notify = new NotifySocket();
        var env = Environment(notify);
        env["WATCHDOG_USEC"] = "200000";
        await using var jobsd = JobsdProcess.Start(["run"], env);
        await notify.WaitForAsync("READY=1", Patience);
        for (var i = 0; i < 3; i++) await notify.WaitForAsync("WATCHDOG=1", Patience);
    }

    [Fact]
    public async Task Does_not_feed_a_watchdog_meant_for_another_process()
    {
        using var notify = new NotifySocket();
        var env = Environment(notify);
        env["WATCHDOG_USEC"] = "200000";
        env["WATCHDOG_PID"] = "1";
        await using var jobsd = JobsdProcess.Start(["run"], env);
        await notify.WaitForAsync("READY=1", Patience);
        // READY means the notify service is running; a watchdog loop would have pinged at once.
        jobsd.Signal("TERM");
        await jobsd.WaitForExitAsync(Patience);
        Assert.Equal(0, notify.Count("WATCHDOG=1"));
    }

    [Fact]
    public async Task Under_systemd_the_auto_log_format_is_journald()
    {
        var env = Environment();
        env["JOURNAL_STREAM"] = "8:12345";
        await using var jobsd = JobsdProcess.Start(["run"], env);
        await jobsd.WaitForOutputAsync("Database schema is current", Patience);
        jobsd.Signal("TERM");
        await jobsd.WaitForExitAsync(Patience);

        var lines = jobsd.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Matches(@"^<[2-7]>\S", l));
        Assert.Contains(lines, l => l.StartsWith("<6>Jobsd.Daemon.Startup.DatabaseBootstrapper: Database schema is current", StringComparison.Ordinal));
        Assert.DoesNotMatch(@"\d{2}:\d{2}:\d{2}", jobsd.Stdout);
    }

    [Fact]
    public async Task Keeps_retrying_a_wrong_password_without_ever_logging_it_and_never_gets_ready()
    {
        const string password = "Sup3r-Secret-Pa55word";
        using var notify = new NotifySocket();
        var env = Environment(notify);
        env["JOBSD_ConnectionStrings__Postgres"] = TestPostgres.TcpConnectionString(Db.Name, password);
        env["JOBSD_Database__MaxStartupRetryDelay"] = "00:00:01";
        env["JOBSD_Logging__LogLevel__Default"] = "Debug";
        env["JOBSD_Logging__LogLevel__Npgsql"] = "Debug";
        await using var jobsd = JobsdProcess.Start(["run"], env);

        await jobsd.WaitForOutputAsync("Database still unavailable after 4 attempts", Patience);
        Assert.Contains("password authentication failed", jobsd.Stdout);
        Assert.Equal(0, notify.Count("READY=1"));
        jobsd.Signal("TERM");
        Assert.Equal(0, await jobsd.WaitForExitAsync(Patience));
        Assert.DoesNotContain(password, jobsd.Stdout + jobsd.Stderr);
        Assert.Contains(notify.Received, m => m.StartsWith("STATUS=Starting: waiting for database", StringComparison.Ordinal));
    }
}
