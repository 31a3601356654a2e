using System.Net;
using System.Text.Json;
using Jobsd.Daemon.Configuration;
using Jobsd.TestSupport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Npgsql;

namespace Jobsd.Daemon.Tests;

/// <summary>The composed host in-process, on real Kestrel over loopback.</summary>
public sealed class HostTests
{
    private static async Task<(WebApplication App, HttpClient Http, StringWriter Log)> StartAsync(Dictionary<string, string?> settings)
    {
        settings.TryAdd("Urls", "http://127.0.0.1:0");
        settings.TryAdd("Logging:Format", "text");
        var log = new StringWriter();
        var app = JobsdHost.Build(JobsdSettings.Load(configPath: null, settings), TextWriter.Synchronized(log));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new HttpClient { BaseAddress = new Uri(address) }, log);
    }

    private static async Task<HttpResponseMessage> WaitForStatusAsync(HttpClient http, string path, HttpStatusCode status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var response = await http.GetAsync(path);
            if (response.StatusCode == status || DateTime.UtcNow > deadline) return response;
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Readyz_is_503_until_the_database_exists_then_200()
    {
        var name = "t_late_" + Guid.NewGuid().ToString("N")[..10];
        var (app, http, _) = await StartAsync(new()
        {
            ["ConnectionStrings:Postgres"] = TestPostgres.TcpConnectionString(name),
            ["Database:MaxStartupRetryDelay"] = "00:00:01",
        });
        await using (app)
        {
            var before = await http.GetAsync("/readyz");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, before.StatusCode);
            using var body = JsonDocument.Parse(await before.Content.ReadAsStringAsync());
            Assert.Equal("unhealthy", body.RootElement.GetProperty("status").GetString());
            var database = body.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "database");
            Assert.Contains("3D000", database.GetProperty("description").GetString());
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);

            await using (var admin = new NpgsqlConnection(TestPostgres.AdminConnectionString()))
            {
                await admin.OpenAsync();
                await using var create = new NpgsqlCommand($"create database \"{name}\"", admin);
                await create.ExecuteNonQueryAsync();
            }
            try
            {
                var after = await WaitForStatusAsync(http, "/readyz", HttpStatusCode.OK);
                Assert.Equal(HttpStatusCode.OK, after.StatusCode);
                var checks = JsonDocument.Parse(await after.Content.ReadAsStringAsync()).RootElement.GetProperty("checks")
                    .EnumerateArray().Select(c => c.GetProperty("name").GetString()).ToList();
                Assert.Equal(["loops", "startup", "database", "migrations"], checks);
            }
            finally
            {
                await app.StopAsync();
                NpgsqlConnection.ClearAllPools();
                await using var admin = new NpgsqlConnection(TestPostgres.AdminConnectionString());
                await admin.OpenAsync();
                await using var drop = new NpgsqlCommand($"drop database if exists \"{name}\" with (force)", admin);
                await drop.ExecuteNonQueryAsync();
            }
        }
    }

    [Fact]
    public async Task Logs_one_line_per_request_with_its_request_id_except_probes()
    {
        await using var db = await TestPostgres.CreateDatabaseAsync();
        var (app, http, log) = await StartAsync(new() { ["ConnectionStrings:Postgres"] = db.ConnectionString });
        await using (app)
        {
            await WaitForStatusAsync(http, "/readyz", HttpStatusCode.OK);
            using var request = new HttpRequestMessage(HttpMethod.Get, "/nothing-here");
            request.Headers.Add("X-Request-ID", "caller-id-42");
            var response = await http.SendAsync(request);
            Assert.Equal("caller-id-42", response.Headers.GetValues("X-Request-ID").Single());
            var generated = (await http.GetAsync("/")).Headers.GetValues("X-Request-ID").Single();
            Assert.Matches("^[0-9a-f]{32}$", generated);
            // A header that could forge log lines is replaced, not echoed.
            using var forged = new HttpRequestMessage(HttpMethod.Get, "/");
            forged.Headers.TryAddWithoutValidation("X-Request-ID", "a b\tc");
            Assert.NotEqual("a b\tc", (await http.SendAsync(forged)).Headers.GetValues("X-Request-ID").Single());
            await app.StopAsync();

            var lines = log.ToString().Split('\n');
            Assert.Single(lines, l => l.Contains("HTTP GET /nothing-here responded 404", StringComparison.Ordinal) && l.Contains("caller-id-42", StringComparison.Ordinal));
            Assert.Single(lines, l => l.Contains(generated, StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.Contains("/readyz", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Metrics_count_enqueued_and_completed_jobs_in_prometheus_text()
    {
        await using var db = await TestPostgres.CreateDatabaseAsync();
        var (app, http, _) = await StartAsync(new() { ["ConnectionStrings:Postgres"] = db.ConnectionString });
        await using (app)
        {
            await WaitForStatusAsync(http, "/readyz", HttpStatusCode.OK);
            var jobs = app.Services.GetRequiredService<Jobsd.Queue.JobClient>();
            await jobs.EnqueueAsync(new Jobsd.Queue.NoopArgs());
            await jobs.EnqueueAsync(new Jobsd.Queue.NoopArgs(FailAttempts: 5), new Jobsd.Queue.EnqueueOptions { MaxAttempts = 1 });
            var deadline = DateTime.UtcNow.AddSeconds(30);
            string text;
            do
            {
                text = await http.GetStringAsync("/metrics");
                if (text.Contains("outcome=\"failed\"", StringComparison.Ordinal) && text.Contains("outcome=\"succeeded\"", StringComparison.Ordinal)) break;
                await Task.Delay(50);
            }
            while (DateTime.UtcNow < deadline);

            Assert.Contains("# TYPE jobsd_jobs_completed_total counter", text);
            Assert.Contains("jobsd_jobs_completed_total{kind=\"noop\",outcome=\"succeeded\",queue=\"default\"} 1\n", text);
            Assert.Contains("jobsd_jobs_completed_total{kind=\"noop\",outcome=\"failed\",queue=\"default\"} 1\n", text);
            Assert.Contains("jobsd_jobs_enqueued_total{kind=\"noop\"} 2\n", text);
            Assert.Contains("# TYPE jobsd_job_duration_seconds histogram", text);
            Assert.Contains("jobsd_job_duration_seconds_bucket{kind=\"noop\",outcome=\"succeeded\",queue=\"default\",le=\"+Inf\"} 1\n", text);
            Assert.Contains("jobsd_job_wait_seconds_count{kind=\"noop\",queue=\"default\"} 2\n", text);
            Assert.Contains("jobsd_workers_total{queue=\"default\"} 10\n", text);
            Assert.Contains("jobsd_workers_busy{queue=\"default\"}", text);
        }
    }

    [Fact]
    public async Task Secrets_from_configuration_never_reach_a_log_line()
    {
        await using var db = await TestPostgres.CreateDatabaseAsync();
        const string apiKey = "key-that-must-not-leak-123";
        var (app, http, log) = await StartAsync(new()
        {
            ["ConnectionStrings:Postgres"] = db.ConnectionString,
            ["Database:Password"] = TestPostgres.Password,
            ["Logging:Format"] = "json",
            ["Integrations:ApiKey"] = apiKey, // an unknown section is only a warning; its secret-looking value must still never be logged
        });
        await using (app)
        {
            await WaitForStatusAsync(http, "/readyz", HttpStatusCode.OK);
            // Code that carelessly logs a secret (here: the whole connection string) is redacted all the same.
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Careless")
                .LogWarning("connecting with {ConnectionString} and key {Key}", db.ConnectionString, apiKey);
            await app.StopAsync();
        }
        var text = log.ToString();
        Assert.Contains("connecting with", text);
        Assert.DoesNotContain("Password=" + TestPostgres.Password, text);
        Assert.DoesNotContain(apiKey, text);
        Assert.Contains("***", text);
        Assert.All(text.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => JsonDocument.Parse(l).Dispose());
    }
}
