using System.Text;
using Jobsd.Jobs.Tokens;
using Jobsd.Queue;
using static Jobsd.Daemon.Dashboard.Html;

namespace Jobsd.Daemon.Dashboard;

/// <summary>Connectors and their OAuth credentials: state only (status, expiry, refresh history, last error) — no secret is ever read here.</summary>
internal static class ConnectorPages
{
    public static void Map(RouteGroupBuilder group)
    {
        group.MapGet("/connectors", ListAsync);
        group.MapPost("/connectors/{id:guid}/refresh", async (Guid id, HttpContext http, JobClient jobs, CancellationToken ct) =>
        {
            var result = await jobs.EnqueueAsync(new TokenRefreshArgs(id, Force: true), new EnqueueOptions { UniqueKey = id.ToString() }, ct);
            return DashboardEndpoints.Done(http, "/connectors", result.Existing
                ? $"A refresh of credential {id} is already queued or running (job {result.Id})."
                : $"Refresh of credential {id} enqueued (job {result.Id}).");
        });
    }

    private static async Task<IResult> ListAsync(HttpContext http, CredentialStore store, SecretBox box, CancellationToken ct)
    {
        var page = DashboardEndpoints.Page(http);
        var credentials = await store.ListAsync(ct);
        var sb = new StringBuilder();
        if (!box.CanEncrypt) sb.Append("<p class=\"flash\">No encryption key is configured (Encryption:Keys, Encryption:CurrentKeyId): tokens are not refreshed and credentials cannot be stored.</p>");
        sb.Append("<table><thead><tr><th>team</th><th>connector</th><th>provider</th><th>client</th><th>status</th><th>expires (UTC)</th><th>last refresh</th>"
                  + "<th class=\"num\">failures</th><th>next attempt</th><th>last error</th><th></th></tr></thead><tbody>");
        var now = DateTime.UtcNow;
        foreach (var c in credentials)
        {
            var status = c.Status switch { "active" => "<span class=\"succeeded\">active</span>", "reauth_required" => "<span class=\"failed\">reauth required</span>", var s => E(s) };
            var expires = c.ExpiresAt is { } at ? $"{Time(at)}{(at < now ? " <span class=\"failed\">expired</span>" : "")}" : c.HasAccessToken ? "unknown" : "no token yet";
            var action = c.Status == "active" ? Form(page, $"/connectors/{c.Id}/refresh", "Refresh now") : "";
            sb.Append($"<tr data-credential=\"{c.Id}\"><td>{E(c.Team)}</td><td>{E(c.Connector)}</td><td>{E(c.Provider)}</td><td><code>{E(c.ClientId)}</code> ({E(c.ClientAuth)})</td>"
                      + $"<td>{status}</td><td>{expires}</td><td>{Time(c.LastRefreshedAt)}</td><td class=\"num\">{c.FailureCount}</td><td>{Time(c.NextAttemptAt)}</td>"
                      + $"<td>{E(c.LastError ?? "")}</td><td>{action}</td></tr>");
        }
        if (credentials.Count == 0) sb.Append("<tr><td colspan=\"11\" class=\"muted\">No credentials. Store one with POST /api/credentials or 'jobsd credentials put'.</td></tr>");
        sb.Append("</tbody></table>");
        return DashboardEndpoints.HtmlPage(Layout(page, "Connectors", "connectors", sb.ToString()));
    }
}
