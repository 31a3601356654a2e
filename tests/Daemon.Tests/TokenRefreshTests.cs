using System.Text;
using Dapper;
using Jobsd.Jobs.Tokens;
using Jobsd.Queue;
using Jobsd.TestSupport;

namespace Jobsd.Daemon.Tests;

/// <summary>Token refresh against a real token endpoint on loopback Kestrel and a real database.</summary>
public sealed class TokenRefreshTests : DatabaseTest
{
    private static readonly string Key1 = SecretBox.GenerateKey();
    private static readonly string Key2 = SecretBox.GenerateKey();

    private static EncryptionSettings Keys(string current, params (string Id, string Key)[] keys) =>
        new() { Keys = keys.ToDictionary(k => k.Id, k => k.Key), CurrentKeyId = current };

    private static readonly EncryptionSettings K1 = Keys("k1", ("k1", Key1));

    private static TokenRefreshSettings Settings() => new() { AllowHttpLoopback = true, HttpTimeout = TimeSpan.FromSeconds(2) };

    private async Task SeedTeamAsync()
    {
        await using var c = await Db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("insert into teams (name) values ('acme')");
    }

    private Task<NodeHost> NodeAsync(TokenRefreshSettings settings, EncryptionSettings encryption) =>
        NodeHost.StartAsync(Db.ConnectionString, s => s.AddJobsdTokens(settings, encryption));

    private async Task<Guid> PutAsync(CredentialStore store, string endpoint, string connector = "github", string clientAuth = "basic",
        string refresh = "rt-1", string? access = null, DateTimeOffset? expiresAt = null) =>
        (await store.PutAsync(new CredentialInput("acme", connector, "github", endpoint, "client-1", "secret-1", refresh, access, expiresAt, clientAuth, null), "test", CancellationToken.None)).CredentialId;

    /// <summary>Enqueues a refresh as the finder would (unique per credential) and waits for the job's end; returns its result.</summary>
    private async Task<string> RefreshAsync(NodeHost node, Guid credential, bool force = false)
    {
        var job = await node.Client.EnqueueAsync(new TokenRefreshArgs(credential, force), new EnqueueOptions { UniqueKey = credential.ToString() });
        return await WaitJobAsync(job.Id);
    }

    private async Task<string> WaitJobAsync(long id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await using var c = await Db.DataSource.OpenConnectionAsync();
            var row = await c.QuerySingleAsync<(string State, string? Result, string Errors)>("select state, result::text, errors::text from queue.jobs where id = @id", new { id });
            // Compact JSON, so tests can look for "key":value.
            if (row.State == "succeeded") return row.Result is null ? "" : System.Text.Json.Nodes.JsonNode.Parse(row.Result)!.ToJsonString();
            if (row.State is "failed" or "deleted" || DateTime.UtcNow > deadline) Assert.Fail($"job {id}: {row}");
            await Task.Delay(25);
        }
    }

    private sealed record Row(string Status, int FailureCount, DateTime? NextAttemptAt, string? LastError, DateTime? ExpiresAt, DateTime? LastRefreshedAt,
        string? AccessTokenEncrypted, string? RefreshTokenEncrypted, string? ClientSecretEncrypted, string? TokenType);

    private async Task<Row> RowAsync(Guid id)
    {
        await using var c = await Db.DataSource.OpenConnectionAsync();
        return await c.QuerySingleAsync<Row>("""
            select status, failure_count as failurecount, next_attempt_at as nextattemptat, last_error as lasterror, expires_at as expiresat,
                   last_refreshed_at as lastrefreshedat, access_token_encrypted as accesstokenencrypted, refresh_token_encrypted as refreshtokenencrypted,
                   client_secret_encrypted as clientsecretencrypted, token_type as tokentype
            from oauth_credentials where id = @id
            """, new { id });
    }

    private static string Open(SecretBox box, Guid id, string column, string envelope) => box.Decrypt(envelope, SecretBox.Context(id, column));

    [Fact]
    public async Task A_refresh_stores_the_new_token_encrypted_rotates_the_refresh_token_and_audits_without_values()
    {
        await SeedTeamAsync();
        await using var endpoint = await FakeTokenEndpoint.StartAsync();
        var box = new SecretBox(K1);
        var store = new CredentialStore(Db.DataSource, box, Settings());
        var id = await PutAsync(store, endpoint.Url);
        await using var node = await NodeAsync(Settings(), K1);

        endpoint.Then(FakeTokenEndpoint.Token("access-1", 3600, refresh: "rt-2"), FakeTokenEndpoint.Token("access-2", 1800));
        var before = DateTime.UtcNow;
        Assert.Contains("\"outcome\":\"refreshed\"", await RefreshAsync(node, id));
        var row = await RowAsync(id);
        Assert.Equal("active", row.Status);
        Assert.Equal(0, row.FailureCount);
        Assert.Equal("access-1", Open(box, id, "access_token_encrypted", row.AccessTokenEncrypted!));
        Assert.Equal("rt-2", Open(box, id, "refresh_token_encrypted", row.RefreshTokenEncrypted!));
        Assert.StartsWith("jobsd:v1:k1:", row.AccessTokenEncrypted);
        Assert.DoesNotContain("access-1", row.AccessTokenEncrypted);
        Assert.InRange(row.ExpiresAt!.Value, before.AddSeconds(3590), DateTime.UtcNow.AddSeconds(3610));
        Assert.Equal("Bearer", row.TokenType);

        var first = endpoint.Requests.ToArray()[0];
        Assert.Equal("refresh_token", first.Form["grant_type"]);
        Assert.Equal("rt-1", first.Form["refresh_token"]);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("client-1:secret-1")), first.Authorization);
        Assert.False(first.Form.ContainsKey("client_secret"));

        // The rotated refresh token is the one sent next.
        Assert.Contains("\"outcome\":\"refreshed\"", await RefreshAsync(node, id, force: true));
        Assert.Equal("rt-2", endpoint.Requests.ToArray()[1].Form["refresh_token"]);
        Assert.Equal("rt-2", Open(box, id, "refresh_token_encrypted", (await RowAsync(id)).RefreshTokenEncrypted!));

        await using var c = await Db.DataSource.OpenConnectionAsync();
        var audit = string.Join("\n", await c.QueryAsync<string>("select action || ' ' || data::text from audit_events order by created_at"));
        Assert.Contains("credential.refreshed", audit);
        Assert.Contains("\"refresh_token_rotated\": true", audit);
        foreach (var secret in new[] { "access-1", "access-2", "rt-1", "rt-2", "secret-1" }) Assert.DoesNotContain(secret, audit);
    }

    [Fact]
    public async Task Client_secret_post_sends_the_client_in_the_body_and_no_authorization_header()
    {
        await SeedTeamAsync();
        await using var endpoint = await FakeTokenEndpoint.StartAsync();
        // This endpoint accepts only client_secret_post.
        endpoint.Default = r => r.Authorization is null && r.Form.GetValueOrDefault("client_id") == "client-1" && r.Form.GetValueOrDefault("client_secret") == "secret-1"
            ? FakeTokenEndpoint.Token("access-post", 600)
            : FakeTokenEndpoint.Error(401, "invalid_client");
        var store = new CredentialStore(Db.DataSource, new SecretBox(K1), Settings());
        var post = await PutAsync(store, endpoint.Url, connector: "post-client", clientAuth: "post");
        var basic = await PutAsync(store, endpoint.Url, connector: "basic-client", clientAuth: "basic");
        await using var node = await NodeAsync(Settings(), K1);

        Assert.Contains("refreshed", await RefreshAsync(node, post));
        Assert.Contains("reauth_required", await RefreshAsync(node, basic));
        Assert.Equal("reauth_required", (await RowAsync(basic)).Status);
    }

    [Fact]
    public async Task Invalid_grant_needs_reauthentication_and_is_not_retried()
    {
        await SeedTeamAsync();
        await using var endpoint = await FakeTokenEndpoint.StartAsync();
        endpoint.Default = _ => FakeTokenEndpoint.Error(400, "invalid_grant", "refresh token revoked");
        var store = new CredentialStore(Db.DataSource, new SecretBox(K1), Settings());
        var id = await PutAsync(store, endpoint.Url);
        await using var node = await NodeAsync(Settings(), K1);

        await RefreshAsync(node, id);
        var row = await RowAsync(id);
        Assert.Equal("reauth_required", row.Status);
        Assert.Contains("invalid_grant", row.LastError);
        Assert.Contains("refresh token revoked", row.LastError);
        Assert.Null(row.NextAttemptAt);
        Assert.Equal(0, await store.EnqueueDueAsync(DateTimeOffset.UtcNow.AddDays(1), CancellationToken.None));
        Assert.Contains("skipped: status is reauth_required", await RefreshAsync(node, id, force: true));
        Assert.Single(endpoint.Requests);
        await using var c = await Db.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await c.ExecuteScalarAsync<long>("select count(*) from audit_events where action = 'credential.reauth_required'"));

        // Storing the credential again starts it over.
        endpoint.Default = _ => FakeTokenEndpoint.Token("fresh", 3600);
        await PutAsync(store, endpoint.Url, refresh: "rt-new");
        Assert.Equal("active", (await RowAsync(id)).Status);
        Assert.Contains("refreshed", await RefreshAsync(node, id));
    }

    [Fact]
    public async Task Server_errors_back_off_rate_limits_honour_retry_after_and_slow_or_malformed_answers_are_failures_that_say_why()
    {
        await SeedTeamAsync();
        await using var endpoint = await FakeTokenEndpoint.StartAsync();
        var settings = Settings();
        settings.HttpTimeout = TimeSpan.FromMilliseconds(500);
        var store = new CredentialStore(Db.DataSource, new SecretBox(K1), settings);
        var id = await PutAsync(store, endpoint.Url);
        await using var node = await NodeAsync(settings, K1);

        async Task<Row> FailOnceAsync(FakeTokenEndpoint.Answer answer)
        {
            endpoint.Then(answer);
            Assert.Contains("\"outcome\":\"failed\"", await RefreshAsync(node, id, force: true));
            return await RowAsync(id);
        }

        var start = DateTime.UtcNow;
        var r500 = await FailOnceAsync(FakeTokenEndpoint.Error(500, "server_error"));
        Assert.Equal("active", r500.Status);
        Assert.Equal(1, r500.FailureCount);
        Assert.StartsWith("HTTP 500 server_error", r500.LastError);
        Assert.InRange(r500.NextAttemptAt!.Value, start.AddSeconds(26), DateTime.UtcNow.AddSeconds(34));
        Assert.Equal(0, await store.EnqueueDueAsync(DateTimeOffset.UtcNow, CancellationToken.None));

        var r429 = await FailOnceAsync(FakeTokenEndpoint.Error(429, "slow_down") with { RetryAfter = "120" });
        Assert.Equal(2, r429.FailureCount);
        Assert.InRange(r429.NextAttemptAt!.Value, start.AddSeconds(119), DateTime.UtcNow.AddSeconds(121));

        var slow = await FailOnceAsync(FakeTokenEndpoint.Token("late", 3600) with { Delay = TimeSpan.FromSeconds(3) });
        Assert.Equal("no answer from the token endpoint within 0.5 s", slow.LastError);
        Assert.InRange(slow.NextAttemptAt!.Value, start.AddSeconds(100), DateTime.UtcNow.AddSeconds(140)); // 30 s × 2² ± 10 %

        Assert.Equal("malformed token response: HTTP 200 but the body is not a JSON object",
            (await FailOnceAsync(new FakeTokenEndpoint.Answer(200, "<html>login</html>"))).LastError);
        Assert.Equal("malformed token response: HTTP 200 but the response has no access_token",
            (await FailOnceAsync(new FakeTokenEndpoint.Answer(200, """{"token_type": "Bearer", "expires_in": 60}"""))).LastError);
        Assert.StartsWith("malformed token response: HTTP 200 but expires_in is not a positive number of seconds",
            (await FailOnceAsync(new FakeTokenEndpoint.Answer(200, """{"access_token": "x", "expires_in": -5}"""))).LastError);

        // After the failures, the next success starts the count over.
        endpoint.Then(FakeTokenEndpoint.Token("finally", 3600));
        Assert.Contains("refreshed", await RefreshAsync(node, id, force: true));
        var ok = await RowAsync(id);
        Assert.Equal(0, ok.FailureCount);
        Assert.Null(ok.LastError);
        Assert.Null(ok.NextAttemptAt);
    }

    [Fact]
    public async Task The_finder_picks_credentials_by_remaining_lifetime_with_jitter_and_skips_those_waiting_or_needing_reauth()
    {
        await SeedTeamAsync();
        var store = new CredentialStore(Db.DataSource, new SecretBox(K1), Settings());
        var now = DateTimeOffset.UtcNow;
        var noToken = await PutAsync(store, "https://idp.example/token", connector: "no-token");
        var fresh = await PutAsync(store, "https://idp.example/token", connector: "fresh", access: "a", expiresAt: now.AddMinutes(50));
        var halfGone = await PutAsync(store, "https://idp.example/token", connector: "half-gone", access: "a", expiresAt: now.AddMinutes(20));
        var almost = await PutAsync(store, "https://idp.example/token", connector: "almost", access: "a", expiresAt: now.AddMinutes(4));
        var waiting = await PutAsync(store, "https://idp.example/token", connector: "waiting", access: "a", expiresAt: now.AddMinutes(1));
        var reauth = await PutAsync(store, "https://idp.example/token", connector: "reauth", access: "a", expiresAt: now.AddMinutes(1));
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            // Tokens of an hour's lifetime: "half-gone" has 20 of 60 minutes left (under half), "fresh" 50.
            await c.ExecuteAsync("update oauth_credentials set last_refreshed_at = expires_at - interval '60 minutes' where access_token_encrypted is not null");
            await c.ExecuteAsync("update oauth_credentials set next_attempt_at = @later where id = @waiting", new { later = now.AddMinutes(5), waiting });
            await c.ExecuteAsync("update oauth_credentials set status = 'reauth_required' where id = @reauth", new { reauth });
            await c.ExecuteAsync("insert into queue.kinds (kind, queue, max_attempts, node) values ('token.refresh', 'tokens', 5, 'earlier') on conflict do nothing");
        }
        Assert.Equal(3, await store.EnqueueDueAsync(now, CancellationToken.None));
        Assert.Equal(0, await store.EnqueueDueAsync(now, CancellationToken.None)); // one job per credential, not one per run
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            var picked = (await c.QueryAsync<Guid>("select (args->>'credential_id')::uuid from queue.jobs where kind = 'token.refresh'")).ToHashSet();
            Assert.Equal(new HashSet<Guid> { noToken, halfGone, almost }, picked);
            Assert.DoesNotContain(fresh, picked);
        }

        // Jitter: the refresh point of a one-hour token spreads over ±10 % of its half-life window.
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            await c.ExecuteAsync("delete from queue.jobs; delete from oauth_credentials");
            await c.ExecuteAsync("""
                with k as (insert into connectors (team_id, name, provider) select t.id, 'bulk-' || g, 'p' from teams t, generate_series(1, 200) g returning id)
                insert into oauth_credentials (connector_id, token_endpoint, client_id, access_token_encrypted, expires_at, last_refreshed_at)
                select k.id, 'https://idp.example/token', 'c', 'x', @now::timestamptz + interval '30 minutes', @now::timestamptz - interval '30 minutes' from k
                """, new { now });
        }
        // 29 min left of a 30-minute threshold scaled by [0.9, 1.1): due where the factor is over 29/30, two thirds of them.
        var dueAt29 = await store.EnqueueDueAsync(now.AddMinutes(1), CancellationToken.None);
        Assert.InRange(dueAt29, 100, 170);
        // 26 min left is under every scaled threshold (27 min and up): the rest.
        var dueAt26 = await store.EnqueueDueAsync(now.AddMinutes(4), CancellationToken.None);
        Assert.Equal(200, dueAt29 + dueAt26);
    }

    [Fact]
    public async Task Two_nodes_refreshing_at_once_send_exactly_one_request_per_credential()
    {
        await SeedTeamAsync();
        await using var endpoint = await FakeTokenEndpoint.StartAsync();
        endpoint.Default = r => FakeTokenEndpoint.Token("a-" + r.Form["refresh_token"], 3600) with { Delay = TimeSpan.FromMilliseconds(100) };
        var store = new CredentialStore(Db.DataSource, new SecretBox(K1), Settings());
        var ids = new List<Guid>();
        for (var i = 0; i < 20; i++) ids.Add(await PutAsync(store, endpoint.Url, connector: $"c{i}", refresh: $"rt-{i}"));
        await using var a = await NodeAsync(Settings(), K1);
        await using var b = await NodeAsync(Settings(), K1);

        // Two jobs per credential (no unique key, as if two finders raced): the row lock and the due re-check leave one request.
        var jobs = new List<long>();
        foreach (var id in ids)
        {
            jobs.Add((await a.Client.EnqueueAsync(new TokenRefreshArgs(id))).Id);
            jobs.Add((await b.Client.EnqueueAsync(new TokenRefreshArgs(id))).Id);
        }
        foreach (var job in jobs) await WaitJobAsync(job);
        var perToken = endpoint.Requests.GroupBy(r => r.Form["refresh_token"]).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(20, perToken.Count);
        Assert.All(perToken, p => Assert.Equal(1, p.Value));
        await using var c = await Db.DataSource.OpenConnectionAsync();
        Assert.Equal(2, await c.ExecuteScalarAsync<long>("select count(distinct node) from queue.jobs"));
    }

    [Fact]
    public async Task After_a_key_rotation_old_values_still_decrypt_and_reencryption_moves_every_secret_to_the_new_key()
    {
        await SeedTeamAsync();
        await using var endpoint = await FakeTokenEndpoint.StartAsync();
        var oldStore = new CredentialStore(Db.DataSource, new SecretBox(K1), Settings());
        var ids = new List<Guid>();
        for (var i = 0; i < 7; i++) ids.Add(await PutAsync(oldStore, endpoint.Url, connector: $"c{i}", refresh: $"rt-{i}", access: $"at-{i}", expiresAt: DateTimeOffset.UtcNow.AddHours(1)));

        var rotated = Keys("k2", ("k1", Key1), ("k2", Key2));
        var settings = Settings();
        settings.ReencryptBatchSize = 3;
        await using var node = await NodeAsync(settings, rotated);
        // The old key still decrypts: a refresh under the rotated configuration works and writes with k2.
        Assert.Contains("refreshed", await RefreshAsync(node, ids[0], force: true));
        Assert.StartsWith("jobsd:v1:k2:", (await RowAsync(ids[0])).AccessTokenEncrypted);
        Assert.StartsWith("jobsd:v1:k1:", (await RowAsync(ids[0])).ClientSecretEncrypted);

        var job = await node.Client.EnqueueAsync(new SecretsReencryptArgs());
        Assert.Contains("\"reencrypted\":7", await WaitJobAsync(job.Id));
        var onlyK2 = new SecretBox(Keys("k2", ("k2", Key2)));
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            var row = await RowAsync(id);
            foreach (var envelope in new[] { row.ClientSecretEncrypted, row.RefreshTokenEncrypted, row.AccessTokenEncrypted }) Assert.StartsWith("jobsd:v1:k2:", envelope);
            Assert.Equal("secret-1", Open(onlyK2, id, "client_secret_encrypted", row.ClientSecretEncrypted!));
            if (i > 0) Assert.Equal($"rt-{i}", Open(onlyK2, id, "refresh_token_encrypted", row.RefreshTokenEncrypted!));
        }
        Assert.Contains("\"reencrypted\":0", await WaitJobAsync((await node.Client.EnqueueAsync(new SecretsReencryptArgs())).Id));
    }

    [Fact]
    public async Task A_tampered_or_transplanted_secret_is_an_error_naming_the_credential_not_a_crash()
    {
        await SeedTeamAsync();
        await using var endpoint = await FakeTokenEndpoint.StartAsync();
        var store = new CredentialStore(Db.DataSource, new SecretBox(K1), Settings());
        var tampered = await PutAsync(store, endpoint.Url, connector: "tampered");
        var transplanted = await PutAsync(store, endpoint.Url, connector: "transplanted");
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            var envelope = await c.ExecuteScalarAsync<string>("select refresh_token_encrypted from oauth_credentials where id = @tampered", new { tampered });
            var parts = envelope!.Split(':');
            var cipher = Convert.FromBase64String(parts[4]);
            cipher[0] ^= 0x01;
            parts[4] = Convert.ToBase64String(cipher);
            await c.ExecuteAsync("update oauth_credentials set refresh_token_encrypted = @value where id = @tampered", new { value = string.Join(':', parts), tampered });
            // A valid envelope of another credential: authenticated data binds it to its own row.
            await c.ExecuteAsync("update oauth_credentials set refresh_token_encrypted = @value where id = @transplanted", new { value = envelope, transplanted });
        }
        await using var node = await NodeAsync(Settings(), K1);

        foreach (var id in new[] { tampered, transplanted })
        {
            Assert.Contains("\"outcome\":\"failed\"", await RefreshAsync(node, id));
            var row = await RowAsync(id);
            Assert.Equal("active", row.Status);
            Assert.Contains($"credential {id}", row.LastError);
            Assert.Contains("failed authentication with key 'k1'", row.LastError);
        }
        Assert.Empty(endpoint.Requests);
        Assert.Throws<SecretUnreadableException>(() => new SecretBox(Keys("k9", ("k9", Key2))).Decrypt(
            new SecretBox(K1).Encrypt("x", SecretBox.Context(tampered, "c")), SecretBox.Context(tampered, "c")));
    }
}

/// <summary>The key and credential verbs of the jobsd executable.</summary>
public sealed class TokenCliTests : DatabaseTest
{
    [Fact]
    public async Task Keys_generate_prints_a_usable_key_and_credentials_put_reads_secrets_from_stdin_and_stores_them_encrypted()
    {
        var (code, stdout, _) = await JobsdProcess.RunAsync(["keys", "generate"]);
        Assert.Equal(0, code);
        var key = System.Text.RegularExpressions.Regex.Match(stdout, @"key:\s+(\S+)").Groups[1].Value;
        Assert.Equal(32, Convert.FromBase64String(key).Length);

        await using (var c = await Db.DataSource.OpenConnectionAsync()) await c.ExecuteAsync("insert into teams (name) values ('acme')");
        var environment = new Dictionary<string, string?>
        {
            ["JOBSD_ConnectionStrings__Postgres"] = Db.ConnectionString,
            ["JOBSD_Encryption__Keys__k1"] = key,
            ["JOBSD_Encryption__CurrentKeyId"] = "k1",
        };
        string[] put = ["credentials", "put", "--team", "acme", "--connector", "github", "--token-endpoint", "https://github.example/login/oauth/access_token",
            "--client-id", "Iv1.abc", "--client-secret", "-", "--refresh-token", "-", "--client-auth", "post"];
        var stored = await JobsdProcess.RunAsync(put, environment, stdin: "cli-secret-value\ncli-refresh-value\n");
        Assert.True(stored.ExitCode == 0, stored.Stderr);
        Assert.Contains("created credential", stored.Stdout);
        await using (var c = await Db.DataSource.OpenConnectionAsync())
        {
            var row = await c.QuerySingleAsync<(Guid Id, string Secret, string Refresh, string Auth)>(
                "select id, client_secret_encrypted, refresh_token_encrypted, client_auth from oauth_credentials");
            var box = new SecretBox(new EncryptionSettings { Keys = new() { ["k1"] = key }, CurrentKeyId = "k1" });
            Assert.Equal("cli-secret-value", box.Decrypt(row.Secret, SecretBox.Context(row.Id, "client_secret_encrypted")));
            Assert.Equal("cli-refresh-value", box.Decrypt(row.Refresh, SecretBox.Context(row.Id, "refresh_token_encrypted")));
            Assert.Equal("post", row.Auth);
        }
        var again = await JobsdProcess.RunAsync(put, environment, stdin: "s2\nr2\n");
        Assert.Contains("replaced credential", again.Stdout);
        var list = await JobsdProcess.RunAsync(["credentials", "list"], environment);
        Assert.Contains("acme/github  active", list.Stdout);
        Assert.DoesNotContain("r2", list.Stdout.Replace("acme", ""));

        var noTeam = await JobsdProcess.RunAsync([.. put.Select(a => a == "acme" ? "nobody" : a)], environment, stdin: "s\nr\n");
        Assert.Equal(2, noTeam.ExitCode);
        Assert.Contains("no team 'nobody'", noTeam.Stderr);
        var http = await JobsdProcess.RunAsync([.. put.Select(a => a.StartsWith("https://") ? "http://github.example/token" : a)], environment, stdin: "s\nr\n");
        Assert.Equal(2, http.ExitCode);
        Assert.Contains("must be https", http.Stderr);
        var badKey = await JobsdProcess.RunAsync(["credentials", "list"], new Dictionary<string, string?>(environment) { ["JOBSD_Encryption__Keys__k1"] = "c2hvcnQ=" });
        Assert.Equal(78, badKey.ExitCode);
        Assert.Contains("Encryption:Keys:k1: not the base64 of 32 bytes", badKey.Stderr);
        Assert.DoesNotContain("c2hvcnQ=", badKey.Stderr);
    }
}
