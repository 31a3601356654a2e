using System.Diagnostics;
using System.Globalization;
using Jobsd.Jobs.Tokens;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Bench;

public sealed partial class EndToEnd
{
    private const int Credentials = 10_000;

    /// <summary>
    /// 10,000 credentials due at once against a token endpoint on loopback Kestrel (answering at
    /// once): refreshes/s and the time from the finder's run until every credential is fresh,
    /// with one node and with two; and how many requests each credential cost (must be one).
    /// </summary>
    private async Task TokensAsync(string connectionString, NpgsqlDataSource dataSource)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var endpoint = builder.Build();
        long requests = 0;
        endpoint.MapPost("/token", async (HttpContext http) =>
        {
            var form = await http.Request.ReadFormAsync();
            Interlocked.Increment(ref requests);
            return Microsoft.AspNetCore.Http.Results.Json(new { access_token = "a-" + form["refresh_token"], token_type = "Bearer", expires_in = 3600 });
        });
        await endpoint.StartAsync();
        var url = endpoint.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/token";

        var key = SecretBox.GenerateKey();
        var encryption = new EncryptionSettings { Keys = new() { ["k1"] = key }, CurrentKeyId = "k1" };
        var store = new CredentialStore(dataSource, new SecretBox(encryption), new TokenRefreshSettings { AllowHttpLoopback = true });
        await using (var c = await dataSource.OpenConnectionAsync())
        await using (var team = new NpgsqlCommand("insert into teams (name) values ('bench-tokens')", c)) await team.ExecuteNonQueryAsync();
        await Parallel.ForAsync(0, Credentials, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
            await store.PutAsync(new CredentialInput("bench-tokens", $"c{i}", "p", url, "client", "secret", $"rt-{i}", null, null, "basic", null), "bench", ct));

        foreach (var nodes in new[] { 1, 2 })
        {
            await using (var c = await dataSource.OpenConnectionAsync())
            await using (var reset = new NpgsqlCommand("update oauth_credentials set access_token_encrypted = null, expires_at = null, last_refreshed_at = null; truncate queue.jobs", c))
            {
                await reset.ExecuteNonQueryAsync();
            }
            Interlocked.Exchange(ref requests, 0);
            var processes = Enumerable.Range(0, nodes).Select(_ => StartJobsd(connectionString, workers: 10, environment: new()
            {
                ["JOBSD_Encryption__Keys__k1"] = key,
                ["JOBSD_Encryption__CurrentKeyId"] = "k1",
                ["JOBSD_TokenRefresh__AllowHttpLoopback"] = "true",
                ["JOBSD_TokenRefresh__Cron"] = "0 0 1 1 *",
                ["JOBSD_Partitions__RunAtStart"] = "false",
                ["JOBSD_Queue__Queues__tokens__Workers"] = "20",
            })).ToList();
            try
            {
                while (await ScalarAsync(dataSource, $"select count(*) from queue.nodes") < nodes) await Task.Delay(50);
                await Task.Delay(1000);
                var sw = Stopwatch.StartNew();
                await ScalarAsync(dataSource, "select queue.enqueue('token-refresh', '{}', queue => 'maintenance')");
                while (await ScalarAsync(dataSource, "select count(*) from oauth_credentials where last_refreshed_at is not null") < Credentials)
                {
                    if (sw.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException("credentials were not all refreshed within 10 minutes");
                    await Task.Delay(20);
                }
                var elapsed = sw.Elapsed;
                _results.Add($"token refresh: {Credentials:N0} due credentials, {nodes} node(s) × 20 workers", Credentials / elapsed.TotalSeconds, "refresh/s", true);
                _results.Add($"token refresh: until all fresh, {nodes} node(s)", elapsed.TotalSeconds, "s");
                _results.Add($"token refresh: requests per credential, {nodes} node(s)", Interlocked.Read(ref requests) / (double)Credentials, "ratio");
            }
            finally
            {
                foreach (var p in processes) await StopAsync(p);
            }
        }
    }
}
