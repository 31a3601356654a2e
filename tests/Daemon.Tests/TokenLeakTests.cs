using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Jobsd.Daemon.Configuration;
using Jobsd.Jobs.Tokens;
using Jobsd.TestSupport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Jobsd.Daemon.Tests;

/// <summary>
/// Distinctive secret values fed through every path a credential takes — stored through the
/// API, refreshed, rotated, failed with an endpoint that echoes them, refused — and then every
/// output searched for them: logs, API answers, dashboard pages, job rows, audit events.
/// </summary>
public sealed class TokenLeakTests : DatabaseTest
{
    private const string ApiKey = "jobsd_test_leak_key";
    private static readonly string[] Secrets = ["CS-LEAK-c1e7", "RT-LEAK-one-9a2", "RT-LEAK-two-4b8", "AT-LEAK-zero-77d", "AT-LEAK-one-3f0"];

    [Fact]
    public async Task No_token_or_client_secret_reaches_any_log_answer_page_job_or_audit_event()
    {
        await using (var c = await Db.DataSource.OpenConnectionAsync()) await c.ExecuteAsync("insert into teams (name) values ('acme')");
        await using var endpoint = await FakeTokenEndpoint.StartAsync();
        var log = new StringWriter();
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["ConnectionStrings:Postgres"] = Db.ConnectionString,
            ["Partitions:RunAtStart"] = "false",
            ["Reaper:Cron"] = "0 0 1 1 *",
            ["TokenRefresh:Cron"] = "0 0 1 1 *",
            ["TokenRefresh:AllowHttpLoopback"] = "true",
            ["Encryption:Keys:k1"] = SecretBox.GenerateKey(),
            ["Encryption:CurrentKeyId"] = "k1",
            ["Api:Keys:ci:Hash"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ApiKey))),
            ["Logging:LogLevel:Default"] = "Debug",
            ["Queue:PollInterval"] = "00:00:00.200",
        };
        await using var app = JobsdHost.Build(JobsdSettings.Load(configPath: null, settings), log);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address) };
        for (var i = 0; i < 300 && (await http.GetAsync("/readyz")).StatusCode != HttpStatusCode.OK; i++) await Task.Delay(100);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        var seen = new StringBuilder();
        async Task<string> Capture(HttpResponseMessage response)
        {
            var text = await response.Content.ReadAsStringAsync();
            seen.AppendLine(text);
            return text;
        }
        StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

        // Refused input that carries secrets: the problem names the field, not the values.
        var bad = await http.PostAsync("/api/credentials", Json($$"""
            {"team": "acme", "connector": "gh", "token_endpoint": "{{endpoint.Url}}", "client_id": "id", "client_secret": "{{Secrets[0]}}",
             "refresh_token": "{{Secrets[1]}}", "access_token": "{{Secrets[3]}}", "expires_at": "tomorrow"}
            """));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("expires_at", await Capture(bad));
        var insecure = await http.PostAsync("/api/credentials", Json($$"""
            {"team": "acme", "connector": "gh", "token_endpoint": "http://idp.example/token", "client_id": "id", "refresh_token": "{{Secrets[1]}}"}
            """));
        Assert.Contains("must be https", await Capture(insecure));

        var stored = await http.PostAsync("/api/credentials", Json($$"""
            {"team": "acme", "connector": "gh", "provider": "github", "token_endpoint": "{{endpoint.Url}}", "client_id": "id", "client_secret": "{{Secrets[0]}}",
             "refresh_token": "{{Secrets[1]}}", "access_token": "{{Secrets[3]}}", "expires_at": "2030-01-01T00:00:00Z", "client_auth": "post"}
            """));
        Assert.Equal(HttpStatusCode.Created, stored.StatusCode);
        var id = System.Text.Json.JsonDocument.Parse(await Capture(stored)).RootElement.GetProperty("credential_id").GetGuid();

        // An endpoint that echoes what it got, then rotates, then refuses — each refresh forced through the API.
        endpoint.Then(
            FakeTokenEndpoint.Error(400, "invalid_request", $"bad refresh token {Secrets[1]} for client secret {Secrets[0]}"),
            FakeTokenEndpoint.Token(Secrets[4], 3600, refresh: Secrets[2]),
            new FakeTokenEndpoint.Answer(500, $"internal error handling {Secrets[2]}"),
            FakeTokenEndpoint.Error(400, "invalid_grant", $"{Secrets[2]} was revoked"));
        var jobs = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            var enqueued = await http.PostAsync("/api/jobs", Json($$$"""{"kind": "token.refresh", "args": {"credential_id": "{{{id}}}", "force": true}}"""));
            var job = System.Text.Json.JsonDocument.Parse(await Capture(enqueued)).RootElement.GetProperty("id").GetInt64();
            jobs.Add(job);
            for (var t = 0; t < 300; t++)
            {
                var state = System.Text.Json.JsonDocument.Parse(await (await http.GetAsync($"/api/jobs/{job}")).Content.ReadAsStringAsync()).RootElement.GetProperty("state").GetString();
                if (state is "succeeded" or "failed") break;
                await Task.Delay(50);
            }
        }
        Assert.Equal(4, endpoint.Requests.Count);
        Assert.Equal(Secrets[2], endpoint.Requests.ToArray()[2].Form["refresh_token"]); // the rotation happened

        foreach (var job in jobs) await Capture(await http.GetAsync($"/api/jobs/{job}"));
        await Capture(await http.GetAsync("/api/credentials"));
        using var dashboard = new HttpClient { BaseAddress = new Uri(address) };
        await Capture(await dashboard.GetAsync("/connectors"));
        await Capture(await dashboard.GetAsync("/jobs?kind=token.refresh"));
        foreach (var job in jobs) await Capture(await dashboard.GetAsync($"/jobs/{job}"));
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            seen.AppendLine(string.Join("\n", await c.QueryAsync<string>("select concat_ws(' ', kind, args, result, errors, reason) from queue.jobs")));
            seen.AppendLine(string.Join("\n", await c.QueryAsync<string>("select concat_ws(' ', action, target_id, data) from audit_events")));
            seen.AppendLine(string.Join("\n", await c.QueryAsync<string>("select concat_ws(' ', status, last_error, token_endpoint, client_id, scope) from oauth_credentials")));
            Assert.Equal("reauth_required", await c.ExecuteScalarAsync<string>("select status from oauth_credentials where id = @id", new { id }));
        }
        await app.StopAsync();
        seen.AppendLine(log.ToString());

        var everything = seen.ToString();
        Assert.Contains("invalid_grant", everything); // the paths did run and say what happened
        Assert.Contains("HTTP 500", everything);
        foreach (var secret in Secrets) Assert.DoesNotContain(secret, everything);
    }
}
