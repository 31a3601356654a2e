using System.Globalization;
using System.Net;
using System.Text;

namespace Jobsd.Daemon.Dashboard;

/// <summary>
/// Writes the dashboard's HTML. Every value goes through <see cref="E"/> (HTML-encoded) unless
/// it is markup this code wrote itself: job args, errors and names come from other systems.
/// </summary>
internal static class Html
{
    public static string E(object? value) => WebUtility.HtmlEncode(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "");

    public static string Url(string value) => Uri.EscapeDataString(value);

    public static string Time(DateTime? utc) =>
        utc is { } t ? $"<time datetime=\"{t:yyyy-MM-dd'T'HH:mm:ss'Z'}\">{t:yyyy-MM-dd HH:mm:ss}</time>" : "–";

    public static string Age(TimeSpan? age) => age switch
    {
        null => "–",
        { TotalSeconds: < 90 } a => $"{a.TotalSeconds:0} s",
        { TotalMinutes: < 90 } a => $"{a.TotalMinutes:0} min",
        { TotalHours: < 48 } a => $"{a.TotalHours:0.0} h",
        var a => $"{a.Value.TotalDays:0.0} d",
    };

    public static string N(long n) => n.ToString("#,0", CultureInfo.InvariantCulture);

    /// <summary>A POST form with the antiforgery token; <paramref name="fields"/> are hidden inputs.</summary>
    public static string Form(PageContext page, string action, string label, string cssClass = "", params (string Name, string Value)[] fields)
    {
        if (page.ReadOnly) return "";
        var sb = new StringBuilder();
        sb.Append($"<form method=\"post\" action=\"{E(page.Prefix + action)}\" class=\"inline\">");
        sb.Append(page.TokenField);
        foreach (var (name, value) in fields) sb.Append($"<input type=\"hidden\" name=\"{E(name)}\" value=\"{E(value)}\">");
        sb.Append($"<button type=\"submit\" class=\"{E(cssClass)}\">{E(label)}</button></form>");
        return sb.ToString();
    }

    public static string Layout(PageContext page, string title, string active, string body)
    {
        string Nav(string href, string name, string key) =>
            $"<a href=\"{E(page.Prefix + href)}\"{(key == active ? " class=\"active\" aria-current=\"page\"" : "")}>{E(name)}</a>";
        var flash = page.Flash is { } f ? $"<p class=\"flash\" role=\"status\">{E(f)}</p>" : "";
        var readOnly = page.ReadOnly ? "<span class=\"badge\">read-only</span>" : "";
        return $"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{E(title)} · jobsd</title>
            <link rel="stylesheet" href="{E(page.Prefix)}/assets/dashboard.css">
            <script src="{E(page.Prefix)}/assets/dashboard.js" defer></script>
            </head>
            <body>
            <header><strong>jobsd</strong> <nav>{Nav("/", "Overview", "overview")}{Nav("/jobs?state=failed", "Jobs", "jobs")}{Nav("/recurring", "Recurring", "recurring")}{Nav("/nodes", "Nodes", "nodes")}{Nav("/partitions", "Partitions", "partitions")}{Nav("/connectors", "Connectors", "connectors")}</nav> {readOnly}</header>
            <main>
            {flash}
            <h1>{E(title)}</h1>
            {body}
            </main>
            </body>
            </html>
            """;
    }
}

/// <summary>What every page needs to know about the request: path prefix, read-only mode, the form token, a flash message.</summary>
internal sealed record PageContext(string Prefix, bool ReadOnly, string TokenField, string? Flash);
