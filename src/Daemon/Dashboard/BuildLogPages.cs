using System.Text;
using Jobsd.Jobs.Builds;
using static Jobsd.Daemon.Dashboard.Html;

namespace Jobsd.Daemon.Dashboard;

/// <summary>
/// A build's log: the last lines rendered on the server (the page works without script), then
/// followed live by polling <c>log.json</c> after the last line id while the build runs; the
/// whole log as text for downloads of any size.
/// </summary>
internal static class BuildLogPages
{
    private const int TailLines = 2_000;

    public static void Map(RouteGroupBuilder group)
    {
        group.MapGet("/builds/{id:guid}/log", LogAsync);
        group.MapGet("/builds/{id:guid}/log.json", (string id, string? after, string? limit, BuildLogReader logs, CancellationToken ct) =>
            Api.ApiEndpoints.BuildLogsAsync(id, after, limit, logs, ct));
        group.MapGet("/builds/{id:guid}/log.txt", TextAsync);
    }

    private static async Task<IResult> LogAsync(Guid id, HttpContext http, BuildLogReader logs, CancellationToken ct)
    {
        var page = DashboardEndpoints.Page(http);
        var build = await logs.BuildAsync(id, ct);
        if (build is null) return DashboardEndpoints.HtmlPage(Layout(page, "Build log", "jobs", $"<p>No build job {E(id)}.</p>"), 404);
        var (lines, more) = await logs.TailAsync(id, TailLines, ct);

        var sb = new StringBuilder();
        if (build.JobId is { } jobId && !build.Final && !page.ReadOnly)
        {
            sb.Append($"<p class=\"actions\">{Form(page, $"/jobs/{jobId}/cancel", "Cancel build", "danger")}</p>");
        }
        sb.Append("<dl>");
        void Row(string name, string html) => sb.Append($"<dt>{E(name)}</dt><dd>{html}</dd>");
        Row("status", $"<span id=\"build-status\" class=\"{E(build.Status == "completed" ? "succeeded" : build.Status)}\">{E(build.Status)}</span>");
        Row("name", E(build.Name));
        Row("architecture", E(build.Architecture));
        Row("workflow run", $"<code>{E(build.WorkflowRunId)}</code> ({E(build.WorkflowStatus)})");
        Row("job", build.JobId is { } j ? $"<a href=\"{E(page.Prefix)}/jobs/{j}\">{j}</a> on {E(build.VmId ?? "–")}" : "–");
        Row("image tag", E(build.ImageTag ?? "–"));
        Row("queued", Time(build.QueuedAt));
        Row("started", Time(build.StartedAt));
        Row("completed", Time(build.CompletedAt));
        if (build.DurationSeconds is { } d) Row("duration", $"{E(d)} s");
        if (build.ExitCode is { } code) Row("exit code", E(code));
        if (build.ArtifactUrl is { } artifact) Row("artifact", $"<code>{E(artifact)}</code>");
        if (build.Error is { } error) Row("error", $"<pre class=\"stack\">{E(error)}</pre>");
        sb.Append("</dl>");

        sb.Append($"<h2>Log <a class=\"muted\" href=\"{E(page.Prefix)}/builds/{id}/log.txt\">(download)</a></h2>");
        if (more) sb.Append($"<p class=\"muted\">Showing the last {TailLines:N0} lines; download the log for all of them.</p>");
        var last = lines.Count > 0 ? lines[^1].Id : 0;
        sb.Append($"<pre id=\"log\" class=\"log\" data-follow=\"{E(page.Prefix)}/builds/{id}/log.json\" data-after=\"{last}\" data-final=\"{(build.Final ? "true" : "false")}\">");
        foreach (var line in lines) sb.Append($"<span class=\"{E(line.Stream)}\">{E(line.Line)}</span>\n");
        sb.Append("</pre>");
        if (lines.Count == 0) sb.Append($"<p class=\"muted\" id=\"log-empty\">No output yet.</p>");
        return DashboardEndpoints.HtmlPage(Layout(page, $"Build {build.Name}", "jobs", sb.ToString()));
    }

    private static async Task TextAsync(Guid id, HttpContext http, BuildLogReader logs, CancellationToken ct)
    {
        if (await logs.BuildAsync(id, ct) is null)
        {
            http.Response.StatusCode = 404;
            await http.Response.WriteAsync($"no build job {id}\n", ct);
            return;
        }
        http.Response.ContentType = "text/plain; charset=utf-8";
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"build-{id}.log\"";
        await using var writer = new StreamWriter(http.Response.Body, new UTF8Encoding(false), 64 * 1024);
        await logs.WriteTextAsync(id, writer, ct);
    }
}
