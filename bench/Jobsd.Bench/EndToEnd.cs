using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Jobsd.Data.Migrations;
using Jobsd.Queue;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Jobsd.Bench;

/// <summary>The measurements of the engine issue, in one run on one cluster.</summary>
public sealed partial class EndToEnd(BenchSettings settings)
{
    private readonly Results _results = new();

    /// <summary>noop jobs take microseconds, so slots, not the database, bound a small pool; 100 is a fair setting for short jobs.</summary>
    private const int DrainWorkers = 100;

    public async Task<Results> RunAsync()
    {
        _results.PgbenchTps = await PgbenchAsync();
        await RecreateDatabaseAsync("jobsd_bench");
        var connectionString = settings.ConnectionString("jobsd_bench");
        await using var dataSource = Jobsd.Data.PostgresDataSource.Create(connectionString, null, "jobsd-bench");
        await new MigrationRunner(dataSource, new EmbeddedScriptSource(), NullLogger<MigrationRunner>.Instance).MigrateAsync(false, CancellationToken.None);
        var client = new JobClient(dataSource, new JobRegistry(), TimeProvider.System);

        // JOBSD_BENCH_ONLY=tokens (or builds, …): only those sections, for a quick look at one family.
        var only = Environment.GetEnvironmentVariable("JOBSD_BENCH_ONLY")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        bool Runs(string section) => only.Length == 0 || only.Contains(section);
        if (Runs("engine")) await EngineAsync(connectionString, dataSource, client);
        if (Runs("reaper")) await ReaperAsync(dataSource);
        if (Runs("builds")) await BuildLogsAsync(connectionString, dataSource);
        if (Runs("tokens")) await TokensAsync(connectionString, dataSource);
        return _results;
    }

    private async Task EngineAsync(string connectionString, NpgsqlDataSource dataSource, JobClient client)
    {
        // Enqueue one at a time: one round trip and one commit each, as web requests do it;
        // 8 concurrent clients, as pgbench's baseline.
        await TruncateAsync(dataSource);
        const int single = 10_000;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            for (var i = 0; i < single / 8; i++) await client.EnqueueAsync(new NoopArgs());
        }));
        _results.Add("enqueue one at a time (8 clients)", single / sw.Elapsed.TotalSeconds, "jobs/s", true);

        await TruncateAsync(dataSource);
        sw.Restart();
        await client.EnqueueManyAsync(Enumerable.Range(0, settings.Jobs).Select(_ => new NoopArgs()));
        _results.Add($"batch enqueue by COPY ({settings.Jobs})", settings.Jobs / sw.Elapsed.TotalSeconds, "jobs/s", true);

        foreach (var nodes in new[] { 1, 2 })
        {
            await TruncateAsync(dataSource);
            var (rate, rss) = await DrainAsync(connectionString, dataSource, client, nodes);
            _results.Add($"process {settings.Jobs} noop jobs, {nodes} node(s) × {DrainWorkers} workers", rate, "jobs/s", true);
            if (nodes == 1) _results.Add("RSS while draining (max, 1 node)", rss, "MB");
        }

        await TruncateAsync(dataSource);
        await LatencyAsync(connectionString, dataSource, client);

        await TruncateAsync(dataSource);
        await DashboardAsync(connectionString, dataSource);
    }

    /// <summary>
    /// Steady-state processing: the nodes first drain a warm-up batch (JIT tiering, pools, plan
    /// caches), then the measured jobs arrive in one COPY. The rate comes from the measured
    /// jobs' own timestamps (first start to last finish), so neither process start-up nor this
    /// poll's interval counts; the poll itself uses the partial indexes, not a table scan.
    /// </summary>
    private async Task<(double Rate, double MaxRssMb)> DrainAsync(string connectionString, NpgsqlDataSource dataSource, JobClient client, int nodes)
    {
        var processes = new List<Process>();
        for (var i = 0; i < nodes; i++) processes.Add(StartJobsd(connectionString, workers: DrainWorkers));
        double maxRss = 0;
        try
        {
            await client.EnqueueManyAsync(Enumerable.Range(0, WarmupJobs).Select(_ => new NoopArgs()));
            await WaitDrainedAsync(dataSource, () => { });
            var firstMeasured = await ScalarAsync(dataSource, "select coalesce(max(id), 0) + 1 from queue.jobs");
            await client.EnqueueManyAsync(Enumerable.Range(0, settings.Jobs).Select(_ => new NoopArgs()));
            await WaitDrainedAsync(dataSource, () => maxRss = Math.Max(maxRss, RssMb(processes[0])));
            var failed = await ScalarAsync(dataSource, "select count(*) from queue.jobs where state <> 'succeeded'");
            if (failed > 0) throw new InvalidOperationException($"{failed} jobs did not succeed");
            await using var c = await dataSource.OpenConnectionAsync();
            await using var cmd = new NpgsqlCommand(
                "select count(*) / extract(epoch from max(finished_at) - min(started_at)) from queue.jobs where id >= @first", c);
            cmd.Parameters.AddWithValue("first", firstMeasured);
            return (Convert.ToDouble(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture), maxRss);
        }
        finally
        {
            foreach (var p in processes) await StopAsync(p);
        }
    }

    private const int WarmupJobs = 5_000;

    private static async Task WaitDrainedAsync(NpgsqlDataSource dataSource, Action sample)
    {
        const string busy = "select count(*) from (select 1 from queue.jobs where state in ('enqueued', 'processing') limit 1) x";
        var deadline = DateTime.UtcNow.AddMinutes(10);
        while (await ScalarAsync(dataSource, busy) > 0)
        {
            sample();
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the nodes did not drain the queue within 10 minutes");
            await Task.Delay(100);
        }
    }

    private async Task LatencyAsync(string connectionString, NpgsqlDataSource dataSource, JobClient client)
    {
        var jobsd = StartJobsd(connectionString, workers: 10);
        try
        {
            // Warm-up: the node is up and idle, and the code paths are jitted.
            for (var i = 0; i < 20; i++) await WaitStartedAsync(dataSource, (await client.EnqueueAsync(new NoopArgs())).Id);
            await Task.Delay(3_000);
            _results.Add("RSS idle (1 node)", RssMb(jobsd), "MB");
            var samples = new List<double>();
            for (var i = 0; i < settings.LatencySamples; i++)
            {
                var id = (await client.EnqueueAsync(new NoopArgs())).Id;
                await WaitStartedAsync(dataSource, id);
                samples.Add(await ScalarDoubleAsync(dataSource, "select extract(epoch from started_at - created_at) * 1000 from queue.jobs where id = @id", id));
                await Task.Delay(Random.Shared.Next(5, 20));
            }
            samples.Sort();
            double P(double q) => samples[(int)Math.Min(samples.Count - 1, Math.Ceiling(q * samples.Count) - 1)];
            _results.Add($"enqueue→start p50 ({samples.Count} samples, idle node)", P(0.50), "ms");
            _results.Add("enqueue→start p95", P(0.95), "ms");
            _results.Add("enqueue→start p99", P(0.99), "ms");
        }
        finally
        {
            await StopAsync(jobsd);
        }
    }

    /// <summary>
    /// The dashboard on a big table: 1,000,000 finished jobs (10% failed) and 100,000 enqueued
    /// (in a paused queue, so they stay). Median time of 20 requests over loopback — the server's
    /// time plus well under a millisecond of transport.
    /// </summary>
    private async Task DashboardAsync(string connectionString, NpgsqlDataSource dataSource)
    {
        await using (var c = await dataSource.OpenConnectionAsync())
        {
            await using var seed = new NpgsqlCommand("""
                insert into queue.queues (name, paused) values ('default', true) on conflict (name) do update set paused = true;
                insert into queue.jobs (kind, args, state, attempt, started_at, finished_at, errors)
                select 'noop', jsonb_build_object('n', g), case when g % 10 = 0 then 'failed' else 'succeeded' end, 1,
                       now() - interval '2 hours', now() - interval '1 hour',
                       case when g % 10 = 0 then '[{"type": "System.Exception", "message": "boom", "stack": "at X"}]'::jsonb else '[]'::jsonb end
                from generate_series(1, 1000000) g;
                insert into queue.jobs (kind, args) select 'noop', jsonb_build_object('n', g) from generate_series(1, 100000) g;
                """, c) { CommandTimeout = 600 };
            await seed.ExecuteNonQueryAsync();
            await using var vacuum = new NpgsqlCommand("vacuum analyze queue.jobs", c) { CommandTimeout = 600 };
            await vacuum.ExecuteNonQueryAsync();
        }
        var deep = await ScalarAsync(dataSource, "select id from queue.jobs where state = 'failed' order by id desc offset 90000 limit 1");
        var detail = await ScalarAsync(dataSource, "select max(id) from queue.jobs where state = 'failed'");
        var port = StartAndStop(System.Net.Sockets.TcpListener.Create(0));
        var jobsd = StartJobsd(connectionString, workers: 10, url: $"http://127.0.0.1:{port}");
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (DateTime.UtcNow < deadline)
            {
                try
                {
                    if ((await http.GetAsync("/readyz")).IsSuccessStatusCode) break;
                }
                catch (HttpRequestException)
                {
                }
                await Task.Delay(200);
            }
            async Task<double> MedianMsAsync(string path)
            {
                var times = new List<double>();
                for (var i = 0; i < 22; i++)
                {
                    var sw = Stopwatch.StartNew();
                    using var response = await http.GetAsync(path);
                    await response.Content.ReadAsStringAsync();
                    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{path}: {(int)response.StatusCode}");
                    if (i >= 2) times.Add(sw.Elapsed.TotalMilliseconds); // the first two warm the code paths
                }
                times.Sort();
                return times[times.Count / 2];
            }
            _results.Add("dashboard overview, 1.1M jobs (median)", await MedianMsAsync("/"), "ms");
            _results.Add("dashboard failed list, 90,000 rows deep", await MedianMsAsync($"/jobs?state=failed&before={deep}"), "ms");
            _results.Add("dashboard job detail", await MedianMsAsync($"/jobs/{detail}"), "ms");
        }
        finally
        {
            await StopAsync(jobsd);
        }
    }

    /// <summary>
    /// The reaper on 1,000,000 expired refresh tokens and 1,000,000 old build-log lines, while
    /// another connection keeps inserting single rows into both tables: rows/s, and the longest
    /// any of those inserts took (how much the reaper gets in the application's way).
    /// </summary>
    private async Task ReaperAsync(NpgsqlDataSource dataSource)
    {
        await using (var c = await dataSource.OpenConnectionAsync())
        {
            await using var seed = new NpgsqlCommand("""
                insert into teams (id, name) values ('00000000-0000-0000-0000-000000000001', 'bench');
                insert into projects (id, team_id, name, repo_url) values ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'p', 'x');
                insert into environments (id, project_id, branch, subdomain_hash) values ('00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000002', 'b', 'h');
                insert into workflow_runs (id, environment_id, trigger) values ('00000000-0000-0000-0000-000000000004', '00000000-0000-0000-0000-000000000003', 'push');
                insert into build_jobs (id, workflow_run_id, name) values ('00000000-0000-0000-0000-000000000005', '00000000-0000-0000-0000-000000000004', 'web');
                insert into refresh_tokens (user_id, token_hash, expires_at) select gen_random_uuid(), 'bench-' || g, now() - interval '10 days' from generate_series(1, 1000000) g;
                insert into build_logs (build_job_id, logged_at, stream, line)
                select '00000000-0000-0000-0000-000000000005', now() - interval '40 days', 'stdout', 'line ' || g from generate_series(1, 1000000) g;
                """, c) { CommandTimeout = 900 };
            await seed.ExecuteNonQueryAsync();
            await using var vacuum = new NpgsqlCommand("vacuum analyze refresh_tokens; ", c) { CommandTimeout = 600 };
            await vacuum.ExecuteNonQueryAsync();
            await using var vacuumLogs = new NpgsqlCommand("vacuum analyze build_logs", c) { CommandTimeout = 600 };
            await vacuumLogs.ExecuteNonQueryAsync();
        }
        var settings = new Jobsd.Jobs.Reaping.ReaperSettings { TimeBudget = TimeSpan.FromHours(1), ReapEnvironments = false, ReapAgents = false, ReapAbandonedBuilds = false };
        var reaper = new Jobsd.Jobs.Reaping.Reaper(dataSource, settings, new Jobsd.Jobs.Builds.BuildSettings(), NullLogger<Jobsd.Jobs.Reaping.Reaper>.Instance);
        using var stop = new CancellationTokenSource();
        var worstInsert = TimeSpan.Zero;
        var inserts = Task.Run(async () =>
        {
            await using var c = await dataSource.OpenConnectionAsync();
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var sw = Stopwatch.StartNew();
                await using (var cmd = new NpgsqlCommand(i % 2 == 0
                    ? "insert into refresh_tokens (user_id, token_hash, expires_at) values (gen_random_uuid(), @h, now() + interval '1 day')"
                    : "insert into build_logs (build_job_id, stream, line) values ('00000000-0000-0000-0000-000000000005', 'stdout', @h)", c))
                {
                    cmd.Parameters.AddWithValue("h", "live-" + i);
                    await cmd.ExecuteNonQueryAsync();
                }
                if (sw.Elapsed > worstInsert) worstInsert = sw.Elapsed;
                await Task.Delay(5);
            }
        });
        var timer = Stopwatch.StartNew();
        var counts = await reaper.RunAsync(DateTimeOffset.UtcNow, dryRun: false, CancellationToken.None);
        var elapsed = timer.Elapsed;
        await stop.CancelAsync();
        await inserts;
        _results.Add($"reaper: {counts.RefreshTokens + counts.BuildLogs:N0} rows (tokens + log lines)", (counts.RefreshTokens + counts.BuildLogs) / elapsed.TotalSeconds, "rows/s");
        _results.Add("reaper: longest concurrent single-row insert", worstInsert.TotalMilliseconds, "ms");
    }

    private const int LogLines = 1_000_000;

    /// <summary>
    /// Log ingestion: a build printing 1,000,000 short lines through a real jobsd (lines/s from
    /// the build's own started/completed timestamps, peak RSS of the jobsd process), against a
    /// plain binary COPY of the same lines from this process into the same table in the same run.
    /// </summary>
    private async Task BuildLogsAsync(string connectionString, NpgsqlDataSource dataSource)
    {
        await using (var c = await dataSource.OpenConnectionAsync())
        await using (var seed = new NpgsqlCommand("""
            insert into teams (id, name) values ('00000000-0000-0000-0000-000000000011', 'bench-builds');
            insert into projects (id, team_id, name, repo_url) values ('00000000-0000-0000-0000-000000000012', '00000000-0000-0000-0000-000000000011', 'p', 'x');
            insert into environments (id, project_id, branch, subdomain_hash) values ('00000000-0000-0000-0000-000000000013', '00000000-0000-0000-0000-000000000012', 'b', 'hb');
            insert into workflow_runs (id, environment_id, trigger) values ('00000000-0000-0000-0000-000000000014', '00000000-0000-0000-0000-000000000013', 'push');
            insert into build_jobs (id, workflow_run_id, name) values
                ('00000000-0000-0000-0000-000000000015', '00000000-0000-0000-0000-000000000014', 'logs'),
                ('00000000-0000-0000-0000-000000000016', '00000000-0000-0000-0000-000000000014', 'copy');
            """, c))
        {
            await seed.ExecuteNonQueryAsync();
        }
        var workspace = Directory.CreateTempSubdirectory("jobsd-bench-builds-").FullName;
        var jobsd = StartJobsd(connectionString, workers: 10, environment: new()
        {
            ["JOBSD_Builds__Command__0"] = "seq",
            ["JOBSD_Builds__Command__1"] = "-f",
            ["JOBSD_Builds__Command__2"] = "build output line %g",
            ["JOBSD_Builds__Command__3"] = "1",
            ["JOBSD_Builds__Command__4"] = LogLines.ToString(CultureInfo.InvariantCulture),
            ["JOBSD_Builds__Checkout"] = "false",
            ["JOBSD_Builds__Workspace"] = workspace,
            ["JOBSD_Builds__MaxLogBytes"] = "1000000000",
        });
        double peakRss = 0;
        try
        {
            while (await ScalarAsync(dataSource, "select count(*) from queue.kinds where kind = 'build'") == 0) await Task.Delay(50);
            await Task.Delay(1000);
            await ScalarAsync(dataSource, "select queue.enqueue('build', '{\"build_job_id\": \"00000000-0000-0000-0000-000000000015\"}', queue => 'builds')");
            while (await ScalarAsync(dataSource, "select count(*) from build_jobs where id = '00000000-0000-0000-0000-000000000015' and status in ('completed', 'failed', 'cancelled')") == 0)
            {
                peakRss = Math.Max(peakRss, RssMb(jobsd));
                await Task.Delay(50);
            }
            peakRss = Math.Max(peakRss, HwmMb(jobsd));
        }
        finally
        {
            await StopAsync(jobsd);
            Directory.Delete(workspace, recursive: true);
        }
        var stored = await ScalarAsync(dataSource, "select count(*) from build_logs where build_job_id = '00000000-0000-0000-0000-000000000015' and stream = 'stdout'");
        if (stored != LogLines) throw new InvalidOperationException($"the build stored {stored} of {LogLines} lines");
        double seconds;
        await using (var took = dataSource.CreateCommand("select extract(epoch from completed_at - started_at)::float8 from build_jobs where id = '00000000-0000-0000-0000-000000000015'"))
        {
            seconds = (double)(await took.ExecuteScalarAsync())!;
        }

        var copy = Stopwatch.StartNew();
        await using (var c = await dataSource.OpenConnectionAsync())
        {
            var build = Guid.Parse("00000000-0000-0000-0000-000000000016");
            await using var import = await c.BeginBinaryImportAsync("copy build_logs (build_job_id, logged_at, stream, line) from stdin (format binary)");
            for (var i = 1; i <= LogLines; i++)
            {
                await import.StartRowAsync();
                await import.WriteAsync(build, NpgsqlTypes.NpgsqlDbType.Uuid);
                await import.WriteAsync(DateTime.UtcNow, NpgsqlTypes.NpgsqlDbType.TimestampTz);
                await import.WriteAsync("stdout", NpgsqlTypes.NpgsqlDbType.Text);
                await import.WriteAsync("build output line " + i.ToString(CultureInfo.InvariantCulture), NpgsqlTypes.NpgsqlDbType.Text);
            }
            await import.CompleteAsync();
        }
        var copyRate = LogLines / copy.Elapsed.TotalSeconds;
        var buildRate = LogLines / seconds;
        _results.Add($"build log ingestion ({LogLines:N0} lines, start to completed)", buildRate, "lines/s", true);
        _results.Add("plain binary COPY of the same lines", copyRate, "lines/s", true);
        _results.Add("build log ingestion / plain COPY", buildRate / copyRate, "ratio");
        _results.Add("jobsd peak RSS during the build", peakRss, "MB");
    }

    private static double HwmMb(Process p)
    {
        var line = File.ReadLines($"/proc/{p.Id}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }

    private static int StartAndStop(System.Net.Sockets.TcpListener listener)
    {
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static async Task WaitStartedAsync(NpgsqlDataSource dataSource, long id)
    {
        while (await ScalarAsync(dataSource, "select count(*) from queue.jobs where id = @id and started_at is not null", id) == 0) await Task.Delay(1);
    }

    private Process StartJobsd(string connectionString, int workers, string url = "http://127.0.0.1:0", Dictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(settings.Jobsd, "run") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["JOBSD_ConnectionStrings__Postgres"] = connectionString;
        psi.Environment["JOBSD_Urls"] = url;
        psi.Environment["JOBSD_Queue__Queues__default__Workers"] = workers.ToString(CultureInfo.InvariantCulture);
        psi.Environment["JOBSD_Logging__LogLevel__Default"] = "Warning";
        foreach (var (k, v) in environment ?? []) psi.Environment[k] = v;
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static async Task StopAsync(Process p)
    {
        if (!p.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await p.WaitForExitAsync(timeout.Token);
        }
        p.Dispose();
    }

    private static double RssMb(Process p)
    {
        try
        {
            var line = File.ReadLines($"/proc/{p.Id}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private async Task<double> PgbenchAsync()
    {
        await RecreateDatabaseAsync("pgbench");
        await RunAsync(Path.Combine(settings.PgBin, "pgbench"), ["-i", "-q", "-s", "1", "-h", settings.Socket, "-p", settings.Port.ToString(CultureInfo.InvariantCulture), "-U", "jobsd", "pgbench"]);
        var script = Path.GetTempFileName();
        await File.WriteAllTextAsync(script, "\\set aid random(1, 100000)\nUPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n");
        var output = await RunAsync(Path.Combine(settings.PgBin, "pgbench"),
            ["-n", "-c", "8", "-j", "2", "-T", settings.PgbenchSeconds.ToString(CultureInfo.InvariantCulture), "-f", script,
             "-h", settings.Socket, "-p", settings.Port.ToString(CultureInfo.InvariantCulture), "-U", "jobsd", "pgbench"]);
        File.Delete(script);
        return double.Parse(Tps().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private async Task RecreateDatabaseAsync(string name)
    {
        await using var admin = new NpgsqlConnection(settings.ConnectionString("postgres") + ";Pooling=false");
        await admin.OpenAsync();
        await using (var drop = new NpgsqlCommand($"drop database if exists \"{name}\" with (force)", admin)) await drop.ExecuteNonQueryAsync();
        await using var create = new NpgsqlCommand($"create database \"{name}\"", admin);
        await create.ExecuteNonQueryAsync();
    }

    private static async Task TruncateAsync(NpgsqlDataSource dataSource)
    {
        await using var c = await dataSource.OpenConnectionAsync();
        await using (var cmd = new NpgsqlCommand("truncate queue.jobs, queue.stats", c)) await cmd.ExecuteNonQueryAsync();
        await using (var vacuum = new NpgsqlCommand("vacuum analyze queue.jobs", c)) await vacuum.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource dataSource, string sql, long? id = null)
    {
        await using var cmd = dataSource.CreateCommand(sql);
        if (id is { } v) cmd.Parameters.AddWithValue("id", v);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task<double> ScalarDoubleAsync(NpgsqlDataSource dataSource, string sql, long id)
    {
        await using var cmd = dataSource.CreateCommand(sql);
        cmd.Parameters.AddWithValue("id", id);
        return Convert.ToDouble(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task<string> RunAsync(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} failed: {await stderr}");
        return await stdout + await stderr;
    }

    [GeneratedRegex(@"tps = ([0-9.]+)")]
    private static partial Regex Tps();
}
