using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Dapper;
using Jobsd.Daemon.Configuration;
using Jobsd.Daemon.Dashboard;
using Jobsd.TestSupport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Playwright;

namespace Jobsd.Daemon.Tests;

/// <summary>
/// The dashboard in a real browser (Debian's chromium driven by Playwright) against the
/// composed host on Kestrel and a real database. Screenshots of every page land in
/// .test-results/screenshots (git-ignored).
/// </summary>
public sealed class DashboardTests : DatabaseTest
{
    private static readonly string Screenshots = Path.Combine(RepositoryRoot.Path, ".test-results", "screenshots");

    private sealed class Session(WebApplication app, IPlaywright playwright, IBrowser browser, IPage page, string address) : IAsyncDisposable
    {
        public IPage Page => page;
        public string Address => address;
        public WebApplication App => app;

        public async Task ShotAsync(string name)
        {
            Directory.CreateDirectory(Screenshots);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, name + ".png"), FullPage = true });
        }

        public async ValueTask DisposeAsync()
        {
            await browser.DisposeAsync();
            playwright.Dispose();
            await app.DisposeAsync();
        }
    }

    private async Task<Session> StartAsync(Dictionary<string, string?>? extra = null, string urls = "http://127.0.0.1:0")
    {
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = urls,
            ["ConnectionStrings:Postgres"] = Db.ConnectionString,
            // Maintenance jobs would be one more job in every count here.
            ["Partitions:RunAtStart"] = "false",
            ["Reaper:Cron"] = "0 0 1 1 *",
            ["Queue:PollInterval"] = "00:00:00.200",
        };
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        var app = JobsdHost.Build(JobsdSettings.Load(configPath: null, settings), TextWriter.Null);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("0.0.0.0", "127.0.0.1");
        using (var http = new HttpClient { BaseAddress = new Uri(address) })
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((await http.GetAsync("/readyz")).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline) await Task.Delay(100);
        }
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Args = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1300, Height = 900 } });
        page.SetDefaultTimeout(30_000);
        return new Session(app, playwright, browser, page, address.TrimEnd('/'));
    }

    /// <summary>A paused queue holds seeded jobs still, so the counts on the page are the seeded ones.</summary>
    private async Task<long> SeedAsync()
    {
        await using var c = await Db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("""
            insert into queue.queues (name, paused, paused_at) values ('held', true, now());
            insert into queue.jobs (queue, kind, args) select 'held', 'noop', '{}' from generate_series(1, 4);
            insert into queue.jobs (queue, kind, args, state, scheduled_at) select 'held', 'noop', '{}', 'scheduled', now() + interval '1 day' from generate_series(1, 2);
            """);
        return await c.ExecuteScalarAsync<long>("""
            insert into queue.jobs (queue, kind, args, state, attempt, max_attempts, finished_at, errors)
            values ('held', 'noop', '{"fail_attempts": 9}', 'failed', 1, 1, now(), jsonb_build_array(jsonb_build_object(
                'at', now(), 'attempt', 1, 'node', 'n1', 'type', 'System.InvalidOperationException', 'message', 'disk <full>',
                'stack', 'System.InvalidOperationException: disk <full>' || chr(10) || '   at Jobsd.Jobs.Builder.RunAsync() in Builder.cs:line 42')))
            returning id
            """);
    }

    [Fact]
    public async Task Overview_shows_the_seeded_counts_and_every_page_renders()
    {
        await SeedAsync();
        await using var s = await StartAsync(new() { ["Recurring:nightly:Cron"] = "30 2 * * *", ["Recurring:nightly:Kind"] = "noop", ["Recurring:nightly:TimeZone"] = "Europe/Berlin" });
        await s.Page.GotoAsync(s.Address + "/");
        Assert.Equal("4", await s.Page.InnerTextAsync("[data-count=enqueued]"));
        Assert.Equal("2", await s.Page.InnerTextAsync("[data-count=scheduled]"));
        Assert.Equal("1", await s.Page.InnerTextAsync("[data-count=failed]"));
        var held = await s.Page.InnerTextAsync("tr[data-queue=held]");
        Assert.Contains("paused", held);
        Assert.Contains("Resume", held);
        await s.ShotAsync("overview");

        await s.Page.ClickAsync("nav a:has-text(\"Jobs\")");
        Assert.Contains("Jobs: failed", await s.Page.InnerTextAsync("h1"));
        await s.ShotAsync("jobs-failed");
        await s.Page.GotoAsync(s.Address + "/recurring");
        Assert.Contains("30 2 * * *", await s.Page.InnerTextAsync("tr[data-recurring=nightly]"));
        await s.ShotAsync("recurring");
        await s.Page.GotoAsync(s.Address + "/nodes");
        Assert.Contains("leader", await s.Page.InnerTextAsync("tbody"));
        await s.ShotAsync("nodes");
        await s.App.Services.GetRequiredService<Jobsd.Jobs.Partitions.PartitionKeeper>()
            .RunAsync("audit_events", new Jobsd.Jobs.Partitions.PartitionTableSettings(), DateTimeOffset.UtcNow, CancellationToken.None);
        await s.Page.GotoAsync(s.Address + "/partitions");
        var thisMonth = $"audit_events_{DateTime.UtcNow:yyyy}_{DateTime.UtcNow:MM}";
        Assert.Contains(thisMonth, await s.Page.InnerTextAsync("table[data-table=audit_events]"));
        Assert.Contains("audit_events_default", await s.Page.InnerTextAsync("table[data-table=audit_events]"));
        await s.ShotAsync("partitions");
    }

    [Fact]
    public async Task A_failed_jobs_detail_shows_its_stack_trace_and_retry_moves_it_out_of_failed()
    {
        var id = await SeedAsync();
        await using var s = await StartAsync();
        await s.Page.GotoAsync(s.Address + "/jobs?state=failed");
        await s.Page.ClickAsync($"a[href$='/jobs/{id}']");
        var stack = await s.Page.InnerTextAsync("pre.stack");
        Assert.Contains("at Jobsd.Jobs.Builder.RunAsync() in Builder.cs:line 42", stack);
        Assert.Contains("disk <full>", stack); // encoded, shown as text, not markup
        Assert.Equal("failed", await s.Page.InnerTextAsync("#state"));
        await s.ShotAsync("job-failed");

        await s.Page.ClickAsync("button:has-text('Retry')");
        Assert.Contains($"Job {id}: retry done.", await s.Page.InnerTextAsync(".flash"));
        Assert.Equal("enqueued", await s.Page.InnerTextAsync("#state"));
        await s.Page.ReloadAsync();
        Assert.Equal(0, await s.Page.Locator(".flash").CountAsync()); // a flash shows once
    }

    [Fact]
    public async Task Cancel_stops_a_running_job()
    {
        await using var s = await StartAsync();
        await using var c = await Db.DataSource.OpenConnectionAsync();
        var id = await c.ExecuteScalarAsync<long>("select queue.enqueue('noop', '{\"sleep_ms\": 120000}')");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await c.ExecuteScalarAsync<string>("select state from queue.jobs where id = @id", new { id }) != "processing" && DateTime.UtcNow < deadline) await Task.Delay(50);

        await s.Page.GotoAsync($"{s.Address}/jobs/{id}");
        Assert.Equal("processing", await s.Page.InnerTextAsync("#state"));
        await s.Page.ClickAsync("button:has-text('Cancel')");
        Assert.Contains("asked to cancel", await s.Page.InnerTextAsync(".flash"));
        deadline = DateTime.UtcNow.AddSeconds(30);
        string state;
        while ((state = await c.ExecuteScalarAsync<string>("select state from queue.jobs where id = @id", new { id }) ?? "") != "deleted" && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal("deleted", state);
        await s.Page.ReloadAsync();
        Assert.Contains("cancelled from the dashboard", await s.Page.InnerTextAsync("dl"));
    }

    [Fact]
    public async Task Trigger_now_enqueues_the_recurring_job_and_pause_resume_work()
    {
        await using var s = await StartAsync(new() { ["Recurring:nightly:Cron"] = "0 3 * * *", ["Recurring:nightly:Kind"] = "noop" });
        await s.Page.GotoAsync(s.Address + "/recurring");
        await s.Page.ClickAsync("tr[data-recurring=nightly] button:has-text('Trigger now')");
        var flash = await s.Page.InnerTextAsync(".flash");
        Assert.Matches(@"Recurring job nightly triggered: job \d+ enqueued", flash);
        await using var c = await Db.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await c.ExecuteScalarAsync<long>("select count(*) from queue.jobs where unique_key like 'recurring:nightly:manual:%'"));

        await s.Page.ClickAsync("tr[data-recurring=nightly] button:has-text('Pause')");
        Assert.Contains("paused", await s.Page.InnerTextAsync("tr[data-recurring=nightly]"));
        Assert.True(await c.ExecuteScalarAsync<bool>("select paused from queue.recurring where name = 'nightly'"));
        await s.Page.ClickAsync("tr[data-recurring=nightly] button:has-text('Resume')");
        Assert.False(await c.ExecuteScalarAsync<bool>("select paused from queue.recurring where name = 'nightly'"));
    }

    [Fact]
    public async Task Bulk_delete_asks_for_confirmation_first()
    {
        await SeedAsync();
        await using var s = await StartAsync();
        await s.Page.GotoAsync(s.Address + "/jobs?state=enqueued&queue=held");
        await s.Page.CheckAsync("#select-all");
        await s.Page.ClickAsync("button[value=delete]");
        Assert.Contains("Delete 4 job(s)?", await s.Page.InnerTextAsync("main"));
        await s.ShotAsync("bulk-confirm");
        await using var c = await Db.DataSource.OpenConnectionAsync();
        Assert.Equal(4, await c.ExecuteScalarAsync<long>("select count(*) from queue.jobs where queue = 'held' and state = 'enqueued'"));
        await s.Page.ClickAsync("button:has-text('Yes, delete 4 job(s)')");
        Assert.Contains("delete: 4 done", await s.Page.InnerTextAsync(".flash"));
        Assert.Equal(0, await c.ExecuteScalarAsync<long>("select count(*) from queue.jobs where queue = 'held' and state = 'enqueued'"));
    }

    [Fact]
    public async Task Read_only_mode_hides_actions_and_refuses_posts()
    {
        var id = await SeedAsync();
        await using var s = await StartAsync(new() { ["Dashboard:ReadOnly"] = "true" });
        await s.Page.GotoAsync($"{s.Address}/jobs/{id}");
        Assert.Equal(0, await s.Page.Locator("button").CountAsync());
        Assert.Contains("read-only", await s.Page.InnerTextAsync("header"));
        await s.Page.GotoAsync(s.Address + "/");
        Assert.Equal(0, await s.Page.Locator("form[method=post]").CountAsync());
        await s.ShotAsync("overview-read-only");
        using var http = new HttpClient { BaseAddress = new Uri(s.Address) };
        Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsync($"/jobs/{id}/retry", new FormUrlEncodedContent([]))).StatusCode);
    }

    [Fact]
    public async Task A_post_without_the_antiforgery_token_is_refused_and_changes_nothing()
    {
        var id = await SeedAsync();
        await using var s = await StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(s.Address) };
        var response = await http.PostAsync($"/jobs/{id}/retry", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("antiforgery", await response.Content.ReadAsStringAsync());
        await using var c = await Db.DataSource.OpenConnectionAsync();
        Assert.Equal("failed", await c.ExecuteScalarAsync<string>("select state from queue.jobs where id = @id", new { id }));
    }

    [Fact]
    public async Task Local_mode_refuses_a_request_from_a_non_loopback_address()
    {
        var external = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        Assert.True(external is not null, "this test needs a non-loopback IPv4 address on the machine");
        var port = FreePort();
        await using var s = await StartAsync(urls: $"http://0.0.0.0:{port}");
        var remote = await s.Page.GotoAsync($"http://{external}:{port}/");
        Assert.Equal(403, remote!.Status);
        Assert.Contains("only on loopback", await s.Page.InnerTextAsync("body"));
        var local = await s.Page.GotoAsync($"http://127.0.0.1:{port}/");
        Assert.Equal(200, local!.Status);
        // The probes stay reachable for load balancers.
        Assert.Equal(200, (await s.Page.GotoAsync($"http://{external}:{port}/healthz"))!.Status);
    }

    [Fact]
    public async Task Basic_access_needs_the_configured_user_and_password()
    {
        await using var s = await StartAsync(new()
        {
            ["Dashboard:Access"] = "basic",
            ["Dashboard:Username"] = "ops",
            ["Dashboard:PasswordHash"] = DashboardPassword.Hash("correct horse battery"),
        });
        using var http = new HttpClient { BaseAddress = new Uri(s.Address) };
        var anonymous = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Basic", anonymous.Headers.WwwAuthenticate.Single().Scheme);
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("ops:wrong password!"u8.ToArray()));
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/")).StatusCode);
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String("ops:correct horse battery"u8.ToArray()));
        var ok = await http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Contains("frame-ancestors 'none'", ok.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("nosniff", ok.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Contains("no-store", ok.Headers.CacheControl!.ToString());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Served_under_a_configured_path_with_every_link_under_it_and_the_overview_as_json()
    {
        await SeedAsync();
        await using var s = await StartAsync(new() { ["Dashboard:Path"] = "/ops/jobsd/" });
        using var http = new HttpClient { BaseAddress = new Uri(s.Address) };
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/jobs")).StatusCode);
        await s.Page.GotoAsync(s.Address + "/ops/jobsd/");
        var links = await s.Page.EvalOnSelectorAllAsync<string[]>("a[href], link[href], script[src], form[action]",
            "els => els.map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action'))");
        Assert.NotEmpty(links);
        Assert.All(links, l => Assert.StartsWith("/ops/jobsd/", l));
        await s.Page.ClickAsync("nav a:has-text(\"Nodes\")");
        Assert.Equal("Nodes", await s.Page.InnerTextAsync("h1"));

        var json = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("/ops/jobsd/overview.json")).RootElement;
        Assert.Equal(4, json.GetProperty("counts").GetProperty("enqueued").GetInt64());
        Assert.Equal(1, json.GetProperty("counts").GetProperty("failed").GetInt64());
        Assert.Equal(60, json.GetProperty("last_hour").GetArrayLength());
    }
    [Fact]
    public async Task A_builds_log_is_linked_from_its_job_coloured_by_stream_and_followed_live_until_it_ends()
    {
        var world = new BuildWorld(Db);
        var go = Path.Combine(Path.GetTempPath(), $"jobsd-test-go-{Guid.NewGuid():N}");
        try
        {
            await world.SeedAsync();
            await using var s = await StartAsync(new()
            {
                ["Builds:Command:0"] = "/bin/sh",
                ["Builds:Command:1"] = "-c",
                ["Builds:Command:2"] = $"echo 'first <b>line</b>'; echo oops >&2; while [ ! -f {go} ]; do sleep 0.1; done; echo second; echo third",
                ["Builds:Checkout"] = "false",
                ["Builds:Workspace"] = world.Workspace,
                ["Builds:LogFlushInterval"] = "00:00:00.050",
            });
            var (build, job) = await world.AddBuildAsync("web");
            await world.WaitForBuildAsync(build, b => b.Status == "running");
            for (var i = 0; i < 100 && (await world.LogAsync(build)).All(l => l.Line != "oops"); i++) await Task.Delay(50);

            await s.Page.GotoAsync($"{s.Address}/jobs/{job}");
            await s.Page.ClickAsync($"a[href$='/builds/{build}/log']");
            Assert.Equal("running", await s.Page.InnerTextAsync("#build-status"));
            Assert.Equal("first <b>line</b>", await s.Page.InnerTextAsync("#log span.stdout"));
            Assert.Equal("oops", await s.Page.InnerTextAsync("#log span.stderr:not(:has-text('[jobsd]'))"));
            Assert.Equal(0, await s.Page.Locator("#log b").CountAsync());
            Assert.Equal(1, await s.Page.Locator("button:has-text(\"Cancel build\")").CountAsync());
            await s.ShotAsync("build-log-running");

            await File.WriteAllTextAsync(go, "");
            await s.Page.WaitForSelectorAsync("#log span.stdout:has-text('third')");
            await s.Page.WaitForFunctionAsync("document.getElementById('build-status').textContent === 'completed'");
            var stdout = await s.Page.Locator("#log span.stdout").AllInnerTextsAsync();
            Assert.Equal(["first <b>line</b>", "second", "third"], stdout);
            await s.ShotAsync("build-log-completed");

            using var http = new HttpClient { BaseAddress = new Uri(s.Address) };
            var text = await http.GetStringAsync($"/builds/{build}/log.txt");
            Assert.Contains("first <b>line</b>\noops\n", text);
            Assert.EndsWith("second\nthird\n", text);
        }
        finally
        {
            File.Delete(go);
            world.Cleanup();
        }
    }
    [Fact]
    public async Task The_connectors_page_shows_credential_state_without_secrets_and_refresh_now_refreshes()
    {
        await using var endpoint = await FakeTokenEndpoint.StartAsync();
        endpoint.Default = _ => FakeTokenEndpoint.Token("dashboard-access-token", 3600);
        var key = Jobsd.Jobs.Tokens.SecretBox.GenerateKey();
        await using (var c = await Db.DataSource.OpenConnectionAsync()) await c.ExecuteAsync("insert into teams (name) values ('acme')");
        await using var s = await StartAsync(new()
        {
            ["Encryption:Keys:k1"] = key,
            ["Encryption:CurrentKeyId"] = "k1",
            ["TokenRefresh:AllowHttpLoopback"] = "true",
            ["TokenRefresh:Cron"] = "0 0 1 1 *",
        });
        var store = s.App.Services.GetRequiredService<Jobsd.Jobs.Tokens.CredentialStore>();
        var (id, _, _) = await store.PutAsync(new Jobsd.Jobs.Tokens.CredentialInput("acme", "github", "github", endpoint.Url, "client-1", "dashboard-client-secret",
            "dashboard-refresh-token", null, null, "basic", null), "test", CancellationToken.None);

        await s.Page.GotoAsync(s.Address + "/connectors");
        var row = s.Page.Locator($"tr[data-credential='{id}']");
        Assert.Contains("no token yet", await row.InnerTextAsync());
        await row.Locator("button:has-text('Refresh now')").ClickAsync();
        Assert.Contains("Refresh of credential", await s.Page.InnerTextAsync(".flash"));
        for (var i = 0; i < 100 && endpoint.Requests.IsEmpty; i++) await Task.Delay(50);
        for (var i = 0; i < 100 && (await store.ListAsync(CancellationToken.None))[0].LastRefreshedAt is null; i++) await Task.Delay(50);
        await s.Page.GotoAsync(s.Address + "/connectors");
        var text = await row.InnerTextAsync();
        Assert.Contains("active", text);
        Assert.DoesNotContain("no token yet", text);
        var html = await s.Page.ContentAsync();
        foreach (var secret in new[] { "dashboard-access-token", "dashboard-client-secret", "dashboard-refresh-token" }) Assert.DoesNotContain(secret, html);
        await s.ShotAsync("connectors");
    }
}
