using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Jobsd.Queue;
using Jobsd.Queue.Recurring;
using static Jobsd.Daemon.Dashboard.Html;

namespace Jobsd.Daemon.Dashboard;

/// <summary>The dashboard's pages (GET): overview, jobs, job detail, recurring, nodes.</summary>
internal static class DashboardPages
{
    private const int PageSize = 50;

    public static void Map(RouteGroupBuilder group)
    {
        group.MapGet("/", OverviewAsync);
        group.MapGet("/fragments/overview", async (HttpContext http, ClusterMonitor monitor, CancellationToken ct) =>
            DashboardEndpoints.HtmlPage(OverviewBody(DashboardEndpoints.Page(http), await monitor.OverviewAsync(ct))));
        // The same figures as data, for scripts and for anyone who wants them without HTML.
        group.MapGet("/overview.json", async (ClusterMonitor monitor, CancellationToken ct) =>
            Results.Json(await monitor.OverviewAsync(ct), Api.ApiEndpoints.Json));
        group.MapGet("/jobs", JobsAsync);
        group.MapGet("/jobs/{id:long}", JobAsync);
        group.MapGet("/recurring", RecurringAsync);
        group.MapGet("/nodes", NodesAsync);
        group.MapGet("/partitions", PartitionsAsync);
    }

    private static async Task<IResult> OverviewAsync(HttpContext http, ClusterMonitor monitor, CancellationToken ct)
    {
        var page = DashboardEndpoints.Page(http);
        var overview = await monitor.OverviewAsync(ct);
        var body = $"<div id=\"overview\" data-refresh=\"{E(page.Prefix)}/fragments/overview\">{OverviewBody(page, overview)}</div>";
        return DashboardEndpoints.HtmlPage(Layout(page, "Overview", "overview", body));
    }

    private static string OverviewBody(PageContext page, Overview o)
    {
        var c = o.Counts;
        string Card(string label, long n, string state, string css = "") =>
            $"<div class=\"card\"><a href=\"{E(page.Prefix)}/jobs?state={state}\"><span class=\"n {css}\" data-count=\"{state}\">{N(n)}</span>{E(label)}</a></div>";
        var sb = new StringBuilder("<div class=\"cards\">");
        sb.Append(Card("enqueued", c.Enqueued, "enqueued"));
        sb.Append(Card("processing", c.Processing, "processing"));
        sb.Append(Card("scheduled", c.Scheduled, "scheduled"));
        sb.Append(Card("failed", c.Failed, "failed", c.Failed > 0 ? "failed" : ""));
        sb.Append(Card("deleted", c.Deleted, "deleted"));
        sb.Append($"<div class=\"card\"><span class=\"n succeeded\">{N(c.SucceededLastDay)}</span>succeeded (24 h)</div>");
        sb.Append("</div>");

        sb.Append("<h2>Succeeded and failed per minute, last hour</h2>");
        sb.Append(Graph(o.LastHour));

        sb.Append("<h2>Queues</h2><table><thead><tr><th>queue</th><th class=\"num\">enqueued</th><th class=\"num\">processing</th><th class=\"num\">scheduled</th>"
                  + "<th class=\"num\">failed</th><th class=\"num\">workers busy/total</th><th class=\"num\">oldest enqueued</th><th>state</th><th></th></tr></thead><tbody>");
        foreach (var q in o.Queues)
        {
            var action = q.Paused
                ? Form(page, "/queues/resume", "Resume", "", ("queue", q.Queue))
                : Form(page, "/queues/pause", "Pause", "", ("queue", q.Queue));
            sb.Append($"<tr data-queue=\"{E(q.Queue)}\"><td><a href=\"{E(page.Prefix)}/jobs?queue={Url(q.Queue)}&amp;state=enqueued\">{E(q.Queue)}</a></td>"
                      + $"<td class=\"num\">{N(q.Enqueued)}</td><td class=\"num\">{N(q.Processing)}</td><td class=\"num\">{N(q.Scheduled)}</td>"
                      + $"<td class=\"num{(q.Failed > 0 ? " failed" : "")}\">{N(q.Failed)}</td><td class=\"num\">{q.Busy}/{q.Workers}</td>"
                      + $"<td class=\"num\">{Age(q.OldestEnqueuedAge)}</td><td>{(q.Paused ? "<span class=\"paused\">paused</span>" : "running")}</td><td>{action}</td></tr>");
        }
        if (o.Queues.Count == 0) sb.Append("<tr><td colspan=\"9\" class=\"muted\">No queues yet.</td></tr>");
        sb.Append("</tbody></table>");
        return sb.ToString();
    }

    /// <summary>An inline SVG line graph (no script needed): green succeeded, red failed.</summary>
    private static string Graph(IReadOnlyList<MinuteStat> minutes)
    {
        const int width = 720, height = 160, pad = 24;
        var max = Math.Max(1, minutes.Count == 0 ? 1 : minutes.Max(m => Math.Max(m.Succeeded, m.Failed)));
        string Line(Func<MinuteStat, long> value) => string.Join(" ", minutes.Select((m, i) =>
            FormattableString.Invariant($"{pad + i * (width - 2 * pad) / Math.Max(1, minutes.Count - 1)},{height - pad - value(m) * (height - 2 * pad) / (double)max:0.#}")));
        var total = minutes.Sum(m => m.Succeeded);
        var failed = minutes.Sum(m => m.Failed);
        return $"""
            <svg class="graph" viewBox="0 0 {width} {height}" role="img" aria-label="{N(total)} succeeded and {N(failed)} failed in the last hour">
            <line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#d9dee6"/>
            <text x="{pad}" y="14" font-size="11" fill="#5b6575">max {N(max)}/min</text>
            <text x="{width - pad}" y="{height - 6}" font-size="11" fill="#5b6575" text-anchor="end">now</text>
            <polyline fill="none" stroke="#1f7a3a" stroke-width="2" points="{Line(m => m.Succeeded)}"/>
            <polyline fill="none" stroke="#b42318" stroke-width="2" points="{Line(m => m.Failed)}"/>
            </svg>
            <p class="legend"><span class="succeeded">succeeded {N(total)}</span><span class="failed">failed {N(failed)}</span></p>
            """;
    }

    private static async Task<IResult> JobsAsync(HttpContext http, JobMonitor monitor, CancellationToken ct)
    {
        var page = DashboardEndpoints.Page(http);
        var q = http.Request.Query;
        string? Param(string name) => q[name].ToString() is { Length: > 0 } v ? v.Trim() : null;
        var state = Param("state");
        var problems = new List<string>();
        if (state is not null && !JobMonitor.States.Contains(state)) problems.Add($"state: '{state}' is not one of {string.Join(", ", JobMonitor.States)}");
        long? Long(string name)
        {
            if (Param(name) is not { } text) return null;
            if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v)) return v;
            problems.Add($"{name}: '{text}' is not a job id");
            return null;
        }
        var id = Long("id");
        var before = Long("before");
        var args = Param("args");
        if (args is not null)
        {
            try
            {
                if (JsonNode.Parse(args) is not JsonObject) problems.Add("args: give a JSON object, e.g. {\"build_job_id\": \"…\"}");
            }
            catch (JsonException e)
            {
                problems.Add($"args: not valid JSON ({e.Message})");
            }
        }
        var filter = new JobFilter(state, Param("queue"), Param("kind"), PageSize, before, id, args);
        var jobs = problems.Count == 0 ? await monitor.ListAsync(filter, ct) : [];

        var sb = new StringBuilder("<p class=\"tabs\">");
        foreach (var s in JobMonitor.States)
        {
            sb.Append($"<a href=\"{E(page.Prefix)}/jobs?{Query(filter with { State = s, BeforeId = null })}\"{(s == state ? " class=\"active\"" : "")}>{s}</a>");
        }
        sb.Append($"<a href=\"{E(page.Prefix)}/jobs?{Query(filter with { State = null, BeforeId = null })}\"{(state is null ? " class=\"active\"" : "")}>all</a></p>");
        sb.Append($"""
            <form method="get" action="{E(page.Prefix)}/jobs" class="filters">
            <input type="hidden" name="state" value="{E(state)}">
            <label>queue <input name="queue" value="{E(filter.Queue)}" size="10"></label>
            <label>kind <input name="kind" value="{E(filter.Kind)}" size="12"></label>
            <label>id <input name="id" value="{E(Param("id"))}" size="8"></label>
            <label>args contain <input name="args" value="{E(args)}" size="32" placeholder='{E("{\"build_job_id\": \"…\"}")}'></label>
            <button type="submit">Filter</button>
            </form>
            """);
        foreach (var p in problems) sb.Append($"<p class=\"failed\" role=\"alert\">{E(p)}</p>");

        var bulk = !page.ReadOnly;
        if (bulk) sb.Append($"<form method=\"post\" action=\"{E(page.Prefix)}/jobs/bulk\" id=\"bulk\">{page.TokenField}");
        sb.Append("<table><thead><tr>");
        if (bulk) sb.Append("<th><input type=\"checkbox\" id=\"select-all\" aria-label=\"select all\"></th>");
        sb.Append("<th>id</th><th>state</th><th>queue</th><th>kind</th><th class=\"num\">attempt</th><th>scheduled</th><th>finished</th><th>node</th></tr></thead><tbody>");
        foreach (var j in jobs)
        {
            sb.Append("<tr>");
            if (bulk) sb.Append($"<td><input type=\"checkbox\" name=\"ids\" value=\"{j.Id}\" aria-label=\"select job {j.Id}\"></td>");
            sb.Append($"<td><a href=\"{E(page.Prefix)}/jobs/{j.Id}\">{j.Id}</a></td><td class=\"{E(j.State)}\">{E(j.State)}</td><td>{E(j.Queue)}</td><td>{E(j.Kind)}</td>"
                      + $"<td class=\"num\">{j.Attempt}/{j.MaxAttempts}</td><td>{Time(j.ScheduledAt)}</td><td>{Time(j.FinishedAt)}</td><td>{E(j.Node)}</td></tr>");
        }
        if (jobs.Count == 0) sb.Append($"<tr><td colspan=\"{(bulk ? 9 : 8)}\" class=\"muted\">No jobs match.</td></tr>");
        sb.Append("</tbody></table>");
        if (bulk && jobs.Count > 0)
        {
            sb.Append("<p>Selected: <button type=\"submit\" name=\"action\" value=\"retry\">Retry</button> "
                      + "<button type=\"submit\" name=\"action\" value=\"cancel\" class=\"danger\">Cancel</button> "
                      + "<button type=\"submit\" name=\"action\" value=\"delete\" class=\"danger\">Delete</button></p>");
        }
        if (bulk) sb.Append("</form>");
        if (jobs.Count == PageSize)
        {
            sb.Append($"<p><a href=\"{E(page.Prefix)}/jobs?{Query(filter with { BeforeId = jobs[^1].Id })}\" rel=\"next\">Older →</a>");
            if (before is not null) sb.Append($" · <a href=\"{E(page.Prefix)}/jobs?{Query(filter with { BeforeId = null })}\">Newest</a>");
            sb.Append("</p>");
        }
        else if (before is not null)
        {
            sb.Append($"<p><a href=\"{E(page.Prefix)}/jobs?{Query(filter with { BeforeId = null })}\">Newest</a></p>");
        }
        return DashboardEndpoints.HtmlPage(Layout(page, state is null ? "Jobs" : $"Jobs: {state}", "jobs", sb.ToString()), problems.Count > 0 ? 400 : 200);
    }

    private static string Query(JobFilter f)
    {
        var parts = new List<string>();
        void Add(string name, string? value) { if (!string.IsNullOrEmpty(value)) parts.Add($"{name}={Url(value)}"); }
        Add("state", f.State);
        Add("queue", f.Queue);
        Add("kind", f.Kind);
        Add("id", f.Id?.ToString(CultureInfo.InvariantCulture));
        Add("args", f.ArgsContains);
        Add("before", f.BeforeId?.ToString(CultureInfo.InvariantCulture));
        return E(string.Join("&", parts));
    }

    private static async Task<IResult> JobAsync(long id, HttpContext http, JobMonitor monitor, CancellationToken ct)
    {
        var page = DashboardEndpoints.Page(http);
        var job = await monitor.GetAsync(id, ct);
        if (job is null) return DashboardEndpoints.HtmlPage(Layout(page, $"Job {id}", "jobs", $"<p>No job {id}: it never existed or was pruned after its retention.</p>"), 404);

        var sb = new StringBuilder();
        var actions = new List<string>();
        if (job.State is "failed" or "deleted" or "succeeded" or "scheduled") actions.Add(Form(page, $"/jobs/{id}/retry", job.State == "scheduled" ? "Run now" : "Retry"));
        if (job.State is "processing") actions.Add(Form(page, $"/jobs/{id}/cancel", "Cancel", "danger"));
        if (job.State is not ("deleted" or "processing")) actions.Add(Form(page, $"/jobs/{id}/delete", "Delete", "danger"));
        if (actions.Count > 0 && !page.ReadOnly) sb.Append($"<p class=\"actions\">{string.Join(" ", actions)}</p>");

        sb.Append("<dl>");
        void Row(string name, string html) => sb.Append($"<dt>{E(name)}</dt><dd>{html}</dd>");
        Row("state", $"<span class=\"{E(job.State)}\" id=\"state\">{E(job.State)}</span>{(job.Reason is { } r ? $" — {E(r)}" : "")}");
        Row("kind", E(job.Kind));
        Row("queue", $"<a href=\"{E(page.Prefix)}/jobs?queue={Url(job.Queue)}\">{E(job.Queue)}</a>");
        Row("priority", E(job.Priority));
        Row("attempt", $"{job.Attempt} of {job.MaxAttempts}");
        Row("created", Time(job.CreatedAt));
        Row("scheduled", Time(job.ScheduledAt));
        Row("started", Time(job.StartedAt));
        Row("finished", Time(job.FinishedAt));
        if (job.CancelRequestedAt is { } cr) Row("cancel requested", Time(cr));
        Row("node", E(job.Node ?? "–"));
        Row("unique key", E(job.UniqueKey ?? "–"));
        Row("tags", job.Tags.Length == 0 ? "–" : string.Join(" ", job.Tags.Select(t => $"<code>{E(t)}</code>")));
        if (job.Kind == "build" && JsonNode.Parse(job.Args)?["build_job_id"]?.ToString() is { Length: > 0 } buildId)
        {
            Row("build log", $"<a href=\"{E(page.Prefix)}/builds/{Url(buildId)}/log\">build {E(buildId)}</a>");
        }
        sb.Append("</dl>");
        sb.Append($"<h2>Args</h2><pre id=\"args\">{E(job.Args)}</pre>");
        if (job.Result is { } result) sb.Append($"<h2>Result</h2><pre id=\"result\">{E(result)}</pre>");

        var errors = JsonNode.Parse(job.Errors) as JsonArray ?? [];
        sb.Append($"<h2>Errors ({errors.Count})</h2>");
        foreach (var error in errors)
        {
            var stack = error?["stack"]?.ToString() ?? "";
            sb.Append($"<section class=\"error\"><p><strong>attempt {E(error?["attempt"])}</strong> on {E(error?["node"])} at {E(error?["at"])}: "
                      + $"<code>{E(error?["type"])}</code> {E(error?["message"])}</p>");
            if (stack.Length > 0) sb.Append($"<details open><summary>stack trace</summary><pre class=\"stack\">{E(stack)}</pre></details>");
            sb.Append("</section>");
        }
        return DashboardEndpoints.HtmlPage(Layout(page, $"Job {id}", "jobs", sb.ToString()));
    }

    private static async Task<IResult> RecurringAsync(HttpContext http, RecurringClient recurring, CancellationToken ct)
    {
        var page = DashboardEndpoints.Page(http);
        var jobs = await recurring.ListAsync(ct);
        var sb = new StringBuilder("<table><thead><tr><th>name</th><th>cron</th><th>zone</th><th>kind</th><th>next run (UTC)</th><th>next run (local)</th>"
                                   + "<th>last run</th><th>last result</th><th>status</th><th></th></tr></thead><tbody>");
        foreach (var r in jobs)
        {
            var status = r.Paused ? "<span class=\"paused\">paused</span>" : r.Enabled ? "enabled" : "disabled";
            if (r.LastError is { } error) status += $"<br><span class=\"failed\">{E(error)}</span>";
            if (r.SkippedCount > 0) status += $"<br><span class=\"muted\">skipped {r.SkippedCount}× (overlap)</span>";
            var last = r.LastJobId is { } jobId ? $"<a href=\"{E(page.Prefix)}/jobs/{jobId}\" class=\"{E(r.LastJobState)}\">{E(r.LastJobState ?? "pruned")}</a>" : "–";
            var actions = Form(page, $"/recurring/{Url(r.Name)}/trigger", "Trigger now")
                          + " " + (r.Paused ? Form(page, $"/recurring/{Url(r.Name)}/resume", "Resume") : Form(page, $"/recurring/{Url(r.Name)}/pause", "Pause"));
            sb.Append($"<tr data-recurring=\"{E(r.Name)}\"><td>{E(r.Name)}</td><td><code>{E(r.Cron)}</code></td><td>{E(r.TimeZone)}</td><td>{E(r.Kind)}</td>"
                      + $"<td>{Time(r.NextRunAt?.UtcDateTime)}</td><td>{E(r.NextRunLocal is { } l ? CronSchedule.Format(l) : "–")}</td>"
                      + $"<td>{Time(r.LastRunAt?.UtcDateTime)}</td><td>{last}</td><td>{status}</td><td>{actions}</td></tr>");
        }
        if (jobs.Count == 0) sb.Append("<tr><td colspan=\"10\" class=\"muted\">No recurring jobs. Define them under Recurring in the configuration.</td></tr>");
        sb.Append("</tbody></table>");
        return DashboardEndpoints.HtmlPage(Layout(page, "Recurring jobs", "recurring", sb.ToString()));
    }

    private static async Task<IResult> PartitionsAsync(HttpContext http, Jobs.Partitions.PartitionKeeper keeper, Jobs.Partitions.PartitionSettings settings, CancellationToken ct)
    {
        var page = DashboardEndpoints.Page(http);
        var sb = new StringBuilder();
        foreach (var (table, config) in settings.Tables)
        {
            sb.Append($"<h2>{E(table)}</h2><p class=\"muted\">{E(config.Interval.ToString().ToLowerInvariant())} on {E(config.Column)}; {config.Behind} behind, {config.Premake} ahead; "
                      + $"retention {(config.Retention is { } r ? E($"{r.TotalDays:0.#} days, then {config.RetentionAction.ToString().ToLowerInvariant()}") : "none")}</p>");
            sb.Append($"<table data-table=\"{E(table)}\"><thead><tr><th>partition</th><th>bounds (UTC)</th><th class=\"num\">rows (estimate)</th></tr></thead><tbody>");
            var partitions = await keeper.ListAsync(table, ct);
            foreach (var (name, bounds, rows) in partitions)
            {
                sb.Append($"<tr><td>{E(name)}</td><td><code>{E(bounds)}</code></td><td class=\"num\">{N(rows)}</td></tr>");
            }
            if (partitions.Count == 0) sb.Append("<tr><td colspan=\"3\" class=\"muted\">No partitions (or no such table): the keeper's job says why.</td></tr>");
            sb.Append("</tbody></table>");
        }
        return DashboardEndpoints.HtmlPage(Layout(page, "Partitions", "partitions", sb.ToString()));
    }

    private static async Task<IResult> NodesAsync(HttpContext http, ClusterMonitor monitor, QueueOptions options, CancellationToken ct)
    {
        var page = DashboardEndpoints.Page(http);
        var nodes = await monitor.NodesAsync(ct);
        var sb = new StringBuilder("<table><thead><tr><th>node</th><th>host</th><th class=\"num\">pid</th><th>version</th><th>started</th><th>heartbeat</th>"
                                   + "<th>queues (busy/workers)</th><th></th></tr></thead><tbody>");
        foreach (var n in nodes)
        {
            var late = n.HeartbeatAge > options.HeartbeatInterval * 2;
            var queues = string.Join(", ", n.Workers.OrderBy(w => w.Key, StringComparer.Ordinal).Select(w => $"{E(w.Key)} {n.Busy.GetValueOrDefault(w.Key)}/{w.Value}"));
            sb.Append($"<tr data-node=\"{E(n.Name)}\"><td>{E(n.Name)}</td><td>{E(n.Host)}</td><td class=\"num\">{n.Pid}</td><td>{E(n.Version)}</td><td>{Time(n.StartedAt)}</td>"
                      + $"<td class=\"{(late ? "late" : "")}\">{Age(n.HeartbeatAge)} ago{(late ? " — late" : "")}</td><td>{queues}</td><td>{(n.Leader ? "<strong>leader</strong>" : "")}</td></tr>");
        }
        if (nodes.Count == 0) sb.Append("<tr><td colspan=\"8\" class=\"muted\">No live nodes.</td></tr>");
        sb.Append("</tbody></table>");
        return DashboardEndpoints.HtmlPage(Layout(page, "Nodes", "nodes", sb.ToString()));
    }
}
