using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Jobsd.Daemon.Configuration;
using Jobsd.TestSupport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Jobsd.Daemon.Tests;

/// <summary>The HTTP API on real Kestrel over loopback, against a real database and a running engine.</summary>
public sealed class ApiTests : DatabaseTest
{
    private const string Key = "jobsd_test_key_ci";
    private const string LimitedKey = "jobsd_test_key_limited";

    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private async Task<(WebApplication App, HttpClient Http)> StartAsync(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["ConnectionStrings:Postgres"] = Db.ConnectionString,
            // Maintenance jobs would be one more job in every count here.
            ["Partitions:RunAtStart"] = "false",
            ["Reaper:Cron"] = "0 0 1 1 *",
            ["Api:Keys:ci:Hash"] = Hash(Key),
            ["Api:Keys:limited:Hash"] = Hash(LimitedKey),
            ["Api:Keys:limited:Kinds:0"] = "other",
        };
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        var app = JobsdHost.Build(JobsdSettings.Load(configPath: null, settings), TextWriter.Null);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var http = new HttpClient { BaseAddress = new Uri(address) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await http.GetAsync("/readyz")).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline) await Task.Delay(100);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        return (app, http);
    }

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private async Task<long> JobCountAsync()
    {
        await using var c = await Db.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<long>("select count(*) from queue.jobs");
    }

    [Fact]
    public async Task Enqueue_get_and_unique_key_answer_201_then_200_with_the_existing_job()
    {
        var (app, http) = await StartAsync();
        await using var _ = app;
        var created = await http.PostAsync("/api/jobs", Body("""{"kind": "noop", "args": {"sleep_ms": 1}, "unique_key": "once", "run_at": "2099-01-01T00:00:00Z", "tags": ["api"]}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var job = await JsonAsync(created);
        var id = job.GetProperty("id").GetInt64();
        Assert.Equal("scheduled", job.GetProperty("state").GetString());
        Assert.False(job.GetProperty("existing").GetBoolean());
        Assert.Equal($"/api/jobs/{id}", created.Headers.Location!.ToString());

        var again = await http.PostAsync("/api/jobs", Body("""{"kind": "noop", "unique_key": "once"}"""));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var existing = await JsonAsync(again);
        Assert.Equal(id, existing.GetProperty("id").GetInt64());
        Assert.True(existing.GetProperty("existing").GetBoolean());

        var detail = await JsonAsync(await http.GetAsync($"/api/jobs/{id}"));
        Assert.Equal("noop", detail.GetProperty("kind").GetString());
        Assert.Equal(1, detail.GetProperty("args").GetProperty("sleep_ms").GetInt32());
        Assert.Equal("once", detail.GetProperty("unique_key").GetString());
        Assert.Equal("api", detail.GetProperty("tags")[0].GetString());

        // A job to run now runs.
        var now = await JsonAsync(await http.PostAsync("/api/jobs", Body("""{"kind": "noop"}""")));
        var nowId = now.GetProperty("id").GetInt64();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string? state;
        while ((state = (await JsonAsync(await http.GetAsync($"/api/jobs/{nowId}"))).GetProperty("state").GetString()) != "succeeded" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Equal("succeeded", state);
    }

    [Theory]
    [InlineData("{\"kind\": ", 400, "the body is not valid JSON", null)]
    [InlineData("[1, 2]", 400, "the body must be a JSON object", null)]
    [InlineData("{\"args\": {}}", 400, "kind: required", "kind")]
    [InlineData("{\"kind\": 5}", 400, "kind: must be a string", "kind")]
    [InlineData("{\"kind\": \"noop\", \"runat\": \"x\"}", 400, "runat: not a field of a job", "runat")]
    [InlineData("{\"kind\": \"noop\", \"args\": [1]}", 400, "args: must be a JSON object", "args")]
    [InlineData("{\"kind\": \"noop\", \"args\": {\"sleep_ms\": \"soon\"}}", 400, "sleep_ms", "args")]
    [InlineData("{\"kind\": \"noop\", \"args\": {\"slep_ms\": 1}}", 400, "slep_ms", "args")]
    [InlineData("{\"kind\": \"nosuch\"}", 400, "unknown kind \"nosuch\"; known kinds: audit-partitions, build, environment.terminate, noop, reap, secrets.reencrypt, token-refresh, token.refresh", "kind")]
    [InlineData("{\"kind\": \"noop\", \"run_at\": \"tomorrow\"}", 400, "run_at: 'tomorrow' is not an ISO 8601 time", "run_at")]
    [InlineData("{\"kind\": \"noop\", \"run_at\": \"2026-12-01T03:00:00\"}", 400, "with an offset", "run_at")]
    [InlineData("{\"kind\": \"noop\", \"priority\": -1}", 400, "priority: must be between 0 and 32767", "priority")]
    [InlineData("{\"kind\": \"noop\", \"priority\": 1.5}", 400, "priority: must be a whole number", "priority")]
    [InlineData("{\"kind\": \"noop\", \"max_attempts\": 0}", 400, "max_attempts must be at least 1", "max_attempts")]
    [InlineData("{\"kind\": \"noop\", \"tags\": \"a\"}", 400, "tags: must be an array of strings", "tags")]
    [InlineData("{\"kind\": \"noop\", \"queue\": \"Not A Queue\"}", 400, "queue: 'Not A Queue' is not a queue name", "queue")]
    public async Task Bad_input_is_a_problem_naming_the_field_and_nothing_is_enqueued(string body, int status, string detail, string? field)
    {
        var (app, http) = await StartAsync();
        await using var _ = app;
        var response = await http.PostAsync("/api/jobs", Body(body));
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await JsonAsync(response);
        Assert.Contains(detail, problem.GetProperty("detail").GetString());
        if (field is not null) Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Equal(0, await JobCountAsync());
    }

    [Fact]
    public async Task A_body_over_one_mebibyte_is_413()
    {
        var (app, http) = await StartAsync();
        await using var _ = app;
        var big = "{\"kind\": \"noop\", \"args\": {\"pad\": \"" + new string('x', 1 << 20) + "\"}}";
        var response = await http.PostAsync("/api/jobs", Body(big));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("limit", (await JsonAsync(response)).GetProperty("detail").GetString());
        // Without a declared length, the limit holds while reading.
        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/jobs") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await http.SendAsync(request)).StatusCode);
        Assert.Equal(0, await JobCountAsync());
    }

    [Fact]
    public async Task Missing_or_wrong_keys_are_401_and_a_key_limited_to_other_kinds_is_403()
    {
        var (app, http) = await StartAsync();
        await using var _ = app;
        using var anonymous = new HttpClient { BaseAddress = http.BaseAddress };
        var missing = await anonymous.GetAsync("/api/queues");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.Single().Scheme);

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key + "x");
        var wrong = await anonymous.PostAsync("/api/jobs", Body("""{"kind": "noop"}"""));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal("unknown API key", (await JsonAsync(wrong)).GetProperty("title").GetString());

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LimitedKey);
        var forbidden = await anonymous.PostAsync("/api/jobs", Body("""{"kind": "noop"}"""));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Contains("key 'limited' may not enqueue kind 'noop'", (await JsonAsync(forbidden)).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/api/queues")).StatusCode); // reading is allowed
        Assert.Equal(0, await JobCountAsync());
    }

    [Fact]
    public async Task Each_key_is_rate_limited_with_429_and_retry_after()
    {
        var (app, http) = await StartAsync(new() { ["Api:RateLimit:RequestsPerSecond"] = "1", ["Api:RateLimit:Burst"] = "3" });
        await using var _ = app;
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 6; i++)
        {
            var response = await http.GetAsync("/api/queues");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) limited ??= response;
        }
        Assert.Contains(HttpStatusCode.OK, statuses);
        Assert.NotNull(limited);
        Assert.True(limited.Headers.RetryAfter!.Delta >= TimeSpan.FromSeconds(1));
        // Another key has its own bucket.
        using var other = new HttpClient { BaseAddress = http.BaseAddress };
        other.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LimitedKey);
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/api/queues")).StatusCode);
    }

    [Fact]
    public async Task Cancel_retry_delete_queues_recurring_trigger_and_openapi()
    {
        var (app, http) = await StartAsync(new()
        {
            ["Recurring:nightly:Cron"] = "0 3 * * *",
            ["Recurring:nightly:Kind"] = "noop",
        });
        await using var _ = app;
        var id = (await JsonAsync(await http.PostAsync("/api/jobs", Body("""{"kind": "noop", "run_at": "2099-01-01T00:00:00+02:00"}""")))).GetProperty("id").GetInt64();

        Assert.Equal(HttpStatusCode.OK, (await http.DeleteAsync($"/api/jobs/{id}")).StatusCode);
        Assert.Equal("deleted", (await JsonAsync(await http.GetAsync($"/api/jobs/{id}"))).GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync($"/api/jobs/{id}/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"/api/jobs/{id}/retry", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/jobs/987654321")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync("/api/jobs/987654321/retry", null)).StatusCode);

        var queues = await JsonAsync(await http.GetAsync("/api/queues"));
        Assert.Contains(queues.EnumerateArray(), q => q.GetProperty("queue").GetString() == "default");

        var recurring = await JsonAsync(await http.GetAsync("/api/recurring"));
        Assert.Equal("0 3 * * *", recurring.EnumerateArray().Single(r => r.GetProperty("name").GetString() == "nightly").GetProperty("cron").GetString());
        var triggered = await http.PostAsync("/api/recurring/nightly/trigger", null);
        Assert.Equal(HttpStatusCode.Created, triggered.StatusCode);
        var jobId = (await JsonAsync(triggered)).GetProperty("id").GetInt64();
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            Assert.StartsWith("recurring:nightly:manual:", await c.ExecuteScalarAsync<string>("select unique_key from queue.jobs where id = @jobId", new { jobId }));
        }
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync("/api/recurring/nosuch/trigger", null)).StatusCode);

        using var anonymous = new HttpClient { BaseAddress = http.BaseAddress };
        var openapi = await anonymous.GetAsync("/api/openapi.json");
        Assert.Equal(HttpStatusCode.OK, openapi.StatusCode);
        var document = await JsonAsync(openapi);
        Assert.True(document.GetProperty("paths").TryGetProperty("/api/jobs", out var jobsPath), "/api/jobs is documented");
        Assert.True(jobsPath.TryGetProperty("post", out var post) && post.ValueKind == JsonValueKind.Object);
        Assert.Equal("jobsd API", document.GetProperty("info").GetProperty("title").GetString());
        // The document is written by hand: every mapped /api operation must be in it.
        var routes = app.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints
            .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && raw.StartsWith("/api/", StringComparison.Ordinal) && raw != "/api/openapi.json")
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IHttpMethodMetadata>()?.HttpMethods ?? []).Select(m =>
                (Path: System.Text.RegularExpressions.Regex.Replace(e.RoutePattern.RawText!, @"\{(\w+):\w+\}", "{$1}"), Method: m.ToLowerInvariant())))
            .ToList();
        Assert.Equal(11, routes.Count);
        foreach (var (path, method) in routes)
        {
            Assert.True(document.GetProperty("paths").TryGetProperty(path, out var item) && item.TryGetProperty(method, out var operation) && operation.ValueKind == JsonValueKind.Object, $"{method} {path} is not in openapi.json");
        }
    }

    [Fact]
    public async Task A_build_is_enqueued_its_log_paged_by_line_id_and_a_running_build_cancelled_through_the_api()
    {
        var world = new BuildWorld(Db);
        try
        {
            await world.SeedAsync();
            var (app, http) = await StartAsync(new()
            {
                ["Builds:Command:0"] = "/bin/sh",
                ["Builds:Command:1"] = "-c",
                ["Builds:Command:2"] = "seq 1 25; if [ \"$JOBSD_NAME\" = slow ]; then sleep 300; fi",
                ["Builds:Checkout"] = "false",
                ["Builds:Workspace"] = world.Workspace,
                ["Builds:LogFlushInterval"] = "00:00:00.050",
            });
            await using var _ = app;
            var (quick, _) = await world.AddBuildAsync("quick", enqueue: false);
            var enqueued = await http.PostAsync("/api/jobs", Body($$"""{"kind": "build", "queue": "builds", "args": {"build_job_id": "{{quick}}"}, "unique_key": "{{quick}}"}"""));
            Assert.Equal(HttpStatusCode.Created, enqueued.StatusCode);
            await world.WaitForFinalAsync(quick);

            // Ten lines a page, following next_after, until a final page brings nothing new.
            var seen = new List<string>();
            long after = 0;
            for (var pages = 0; ; pages++)
            {
                Assert.True(pages < 20, "paging never ended");
                var page = await JsonAsync(await http.GetAsync($"/api/builds/{quick}/logs?after={after}&limit=10"));
                var lines = page.GetProperty("lines").EnumerateArray().ToList();
                seen.AddRange(lines.Where(l => l.GetProperty("stream").GetString() == "stdout").Select(l => l.GetProperty("line").GetString()!));
                after = page.GetProperty("next_after").GetInt64();
                Assert.Equal("completed", page.GetProperty("build").GetProperty("status").GetString());
                if (page.GetProperty("final").GetBoolean() && lines.Count == 0) break;
            }
            Assert.Equal(Enumerable.Range(1, 25).Select(i => i.ToString()), seen);

            var bad = await http.GetAsync("/api/builds/not-a-uuid/logs");
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("id", (await JsonAsync(bad)).GetProperty("field").GetString());
            Assert.Equal("after", (await JsonAsync(await http.GetAsync($"/api/builds/{quick}/logs?after=-1"))).GetProperty("field").GetString());
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/api/builds/{Guid.NewGuid()}/logs")).StatusCode);

            var (slow, slowJob) = await world.AddBuildAsync("slow");
            await world.WaitForBuildAsync(slow, b => b.Status == "running");
            var cancel = await http.PostAsync($"/api/jobs/{slowJob}/cancel", null);
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
            var row = await world.WaitForFinalAsync(slow, 15);
            Assert.Equal("cancelled", row.Status);
            Assert.Equal("deleted", (await world.WaitForJobAsync(slowJob, "deleted", "succeeded", "failed")).State);
            var quickJob = await world.ScalarAsync<long>("select id from queue.jobs where unique_key = @k", new { k = quick.ToString() });
            var result = (await JsonAsync(await http.GetAsync($"/api/jobs/{quickJob}"))).GetProperty("result");
            Assert.Equal("completed", result.GetProperty("status").GetString());
        }
        finally
        {
            world.Cleanup();
        }
    }

    [Fact]
    public async Task Api_key_create_prints_a_key_whose_hash_it_configures()
    {
        var (code, stdout, _) = await JobsdProcess.RunAsync(["api-key", "create", "builder"]);
        Assert.Equal(0, code);
        var key = System.Text.RegularExpressions.Regex.Match(stdout, @"key:\s+(jobsd_\S+)").Groups[1].Value;
        Assert.Contains($"JOBSD_Api__Keys__builder__Hash={Hash(key)}", stdout);
        var bad = await JobsdProcess.RunAsync(["api-key", "create", "bad-name"]);
        Assert.Equal(2, bad.ExitCode);
    }
}
