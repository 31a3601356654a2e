using System.Globalization;
using System.Text;
using Jobsd.Queue;
using Jobsd.Queue.Recurring;
using static Jobsd.Daemon.Dashboard.Html;

namespace Jobsd.Daemon.Dashboard;

/// <summary>
/// The dashboard's actions (POST, antiforgery-checked by the guard). Each answers with a
/// redirect and a flash message saying what happened; destructive bulk actions first show a
/// confirmation page (works without script).
/// </summary>
internal static class DashboardActions
{
    private const int MaxBulk = 500;

    public static void Map(RouteGroupBuilder group)
    {
        group.MapPost("/queues/{verb}", async (string verb, HttpContext http, JobClient jobs, CancellationToken ct) =>
        {
            if (verb is not ("pause" or "resume")) return Results.NotFound();
            var queue = (await http.Request.ReadFormAsync(ct))["queue"].ToString();
            try
            {
                if (verb == "pause") await jobs.PauseQueueAsync(queue, ct);
                else await jobs.ResumeQueueAsync(queue, ct);
            }
            catch (ArgumentException e)
            {
                return DashboardEndpoints.Done(http, "/", e.Message.Split(" (Parameter")[0]);
            }
            return DashboardEndpoints.Done(http, "/", $"Queue {queue} {(verb == "pause" ? "paused: no node claims from it until resumed" : "resumed")}.");
        });

        group.MapPost("/jobs/{id:long}/{verb}", async (long id, string verb, HttpContext http, JobClient jobs, CancellationToken ct) =>
        {
            if (verb is not ("retry" or "cancel" or "delete")) return Results.NotFound();
            var result = await ActAsync(jobs, id, verb, ct);
            return DashboardEndpoints.Done(http, $"/jobs/{id}", Message(id, verb, result));
        });

        group.MapPost("/jobs/bulk", BulkAsync);

        group.MapPost("/recurring/{name}/{verb}", async (string name, string verb, HttpContext http, RecurringClient recurring, CancellationToken ct) =>
        {
            if (verb is not ("trigger" or "pause" or "resume")) return Results.NotFound();
            string message;
            switch (verb)
            {
                case "trigger":
                    var id = await recurring.TriggerAsync(name, ct);
                    message = id is null ? $"No recurring job {name}." : $"Recurring job {name} triggered: job {id} enqueued.";
                    break;
                case "pause":
                    message = await recurring.PauseAsync(name, ct) == RecurringActionResult.Done ? $"Recurring job {name} paused." : $"No recurring job {name}.";
                    break;
                default:
                    message = await recurring.ResumeAsync(name, ct) == RecurringActionResult.Done ? $"Recurring job {name} resumed from its next fire." : $"No recurring job {name}.";
                    break;
            }
            return DashboardEndpoints.Done(http, "/recurring", message);
        });
    }

    private static async Task<IResult> BulkAsync(HttpContext http, JobClient jobs, CancellationToken ct)
    {
        var form = await http.Request.ReadFormAsync(ct);
        var verb = form["action"].ToString();
        var ids = form["ids"].Select(v => long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : -1).Where(id => id > 0).Distinct().ToList();
        var back = http.Request.Headers.Referer.ToString() is { Length: > 0 } referer && Uri.TryCreate(referer, UriKind.Absolute, out var uri) && uri.AbsolutePath.EndsWith("/jobs", StringComparison.Ordinal)
            ? "/jobs" + uri.Query : "/jobs";
        if (verb is not ("retry" or "cancel" or "delete")) return DashboardEndpoints.Done(http, back, "Choose retry, cancel or delete.");
        if (ids.Count == 0) return DashboardEndpoints.Done(http, back, "No jobs were selected.");
        if (ids.Count > MaxBulk) return DashboardEndpoints.Done(http, back, $"At most {MaxBulk} jobs at once.");

        if (verb != "retry" && form["confirmed"] != "yes")
        {
            var page = DashboardEndpoints.Page(http);
            var hidden = new StringBuilder();
            foreach (var id in ids) hidden.Append($"<input type=\"hidden\" name=\"ids\" value=\"{id}\">");
            var body = $"""
                <p>{E(verb == "delete" ? "Delete" : "Cancel")} {ids.Count} job(s)? {E(verb == "delete" ? "Deleted jobs do not run again unless retried." : "Running jobs are interrupted; the others are deleted.")}</p>
                <p class="muted">{E(string.Join(", ", ids.Take(20)))}{(ids.Count > 20 ? " …" : "")}</p>
                <form method="post" action="{E(page.Prefix)}/jobs/bulk">{page.TokenField}{hidden}
                <input type="hidden" name="action" value="{E(verb)}"><input type="hidden" name="confirmed" value="yes">
                <button type="submit" class="danger">Yes, {E(verb)} {ids.Count} job(s)</button> <a href="{E(page.Prefix + back)}">No, go back</a>
                </form>
                """;
            return DashboardEndpoints.HtmlPage(Layout(page, "Confirm", "jobs", body));
        }

        var counts = new Dictionary<JobActionResult, int>();
        foreach (var id in ids)
        {
            var result = await ActAsync(jobs, id, verb, ct);
            counts[result] = counts.GetValueOrDefault(result) + 1;
        }
        var parts = new List<string> { $"{verb}: {counts.GetValueOrDefault(JobActionResult.Done)} done" };
        if (counts.GetValueOrDefault(JobActionResult.CancelRequested) is > 0 and var asked) parts.Add($"{asked} running (asked to cancel)");
        if (counts.GetValueOrDefault(JobActionResult.NotAllowed) is > 0 and var refused) parts.Add($"{refused} not allowed in their state");
        if (counts.GetValueOrDefault(JobActionResult.NotFound) is > 0 and var gone) parts.Add($"{gone} not found");
        return DashboardEndpoints.Done(http, back, string.Join(", ", parts) + ".");
    }

    private static Task<JobActionResult> ActAsync(JobClient jobs, long id, string verb, CancellationToken ct) => verb switch
    {
        "retry" => jobs.RetryAsync(id, ct),
        "cancel" => jobs.CancelAsync(id, "cancelled from the dashboard", ct),
        _ => jobs.DeleteAsync(id, "deleted from the dashboard", ct),
    };

    private static string Message(long id, string verb, JobActionResult result) => result switch
    {
        JobActionResult.Done => $"Job {id}: {verb} done.",
        JobActionResult.CancelRequested => $"Job {id} is running: its node was asked to cancel it.",
        JobActionResult.NotFound => $"Job {id} not found.",
        _ => $"Job {id}: its state does not allow {verb}.",
    };
}
