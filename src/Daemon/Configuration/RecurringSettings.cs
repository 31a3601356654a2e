using System.Globalization;
using System.Text.Json.Nodes;
using Jobsd.Queue.Recurring;
using Microsoft.Extensions.Configuration;

namespace Jobsd.Daemon.Configuration;

/// <summary>
/// Reads <c>Recurring:{name}:{Cron,TimeZone,Kind,Args,Queue,Priority,MaxAttempts,Misfire,Overlap,MaxCatchUp,Enabled}</c>
/// into definitions. Schedule and zone are checked here; kind and args are checked against the
/// registered handlers once the host is built (<see cref="RecurringCatalog.Validate"/>).
/// </summary>
public static class RecurringSettings
{
    public const string Section = "Recurring";

    private static readonly string[] Keys =
        ["Cron", "TimeZone", "Kind", "Args", "Queue", "Priority", "MaxAttempts", "Misfire", "Overlap", "MaxCatchUp", "Enabled"];

    public static IReadOnlyList<RecurringDefinition> Read(IConfiguration configuration, List<string> problems)
    {
        var definitions = new List<RecurringDefinition>();
        foreach (var job in configuration.GetSection(Section).GetChildren())
        {
            var at = $"{Section}:{job.Key}";
            var before = problems.Count;
            foreach (var child in job.GetChildren())
            {
                if (!Keys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
                {
                    problems.Add($"{at}:{child.Key}: unknown setting{SettingsBinder.Suggest(child.Key, Keys)}");
                }
            }
            var cron = job["Cron"];
            var kind = job["Kind"];
            if (string.IsNullOrWhiteSpace(cron)) problems.Add($"{at}:Cron: missing (e.g. \"0 3 * * *\")");
            if (string.IsNullOrWhiteSpace(kind)) problems.Add($"{at}:Kind: missing (the job kind to enqueue)");
            var misfire = ParseEnum(job, "Misfire", MisfirePolicy.Once, at, problems);
            var overlap = ParseEnum(job, "Overlap", OverlapPolicy.Allow, at, problems);
            var priority = ParseInt(job, "Priority", at, problems) ?? 0;
            var maxAttempts = ParseInt(job, "MaxAttempts", at, problems);
            var maxCatchUp = ParseInt(job, "MaxCatchUp", at, problems) ?? 100;
            var enabled = true;
            if (job["Enabled"] is { } e && !bool.TryParse(e, out enabled)) problems.Add($"{at}:Enabled: '{e}' is not true or false");
            var args = ArgsJson(job.GetSection("Args"), at, problems);
            if (problems.Count > before) continue;

            var definition = new RecurringDefinition(job.Key, cron!, kind!, args, RecurringSource.Config, job["TimeZone"] ?? "UTC",
                job["Queue"], priority, maxAttempts, misfire, overlap, maxCatchUp, enabled);
            // Kind and args need the handlers; everything else can be checked now.
            problems.AddRange(definition.Validate(registry: null, argsFromConfiguration: true, out _));
            definitions.Add(definition);
        }
        return definitions;
    }

    /// <summary>
    /// Args as a JSON object: either written as JSON text in one value, or as a section whose
    /// values (all strings in configuration) bind by the handler's field types later.
    /// </summary>
    private static string ArgsJson(IConfigurationSection args, string at, List<string> problems)
    {
        if (!args.Exists()) return "{}";
        if (args.Value is { } text)
        {
            try
            {
                if (JsonNode.Parse(text) is JsonObject) return text;
            }
            catch (System.Text.Json.JsonException)
            {
            }
            problems.Add($"{at}:Args: must be a JSON object (or a section of fields), got '{text}'");
            return "{}";
        }
        return ToNode(args)!.ToJsonString();
    }

    private static JsonNode? ToNode(IConfigurationSection section)
    {
        var children = section.GetChildren().ToList();
        if (children.Count == 0) return section.Value is null ? null : JsonValue.Create(section.Value);
        // Configuration writes arrays as sections keyed 0, 1, 2 …
        if (children.All(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            var array = new JsonArray();
            foreach (var child in children.OrderBy(c => int.Parse(c.Key, CultureInfo.InvariantCulture))) array.Add(ToNode(child));
            return array;
        }
        var obj = new JsonObject();
        foreach (var child in children) obj[child.Key] = ToNode(child);
        return obj;
    }

    private static T ParseEnum<T>(IConfigurationSection job, string key, T fallback, string at, List<string> problems) where T : struct, Enum
    {
        if (job[key] is not { } text) return fallback;
        if (Enum.TryParse<T>(text, ignoreCase: true, out var value) && Enum.IsDefined(value) && !int.TryParse(text, out _)) return value;
        problems.Add($"{at}:{key}: '{text}' is not one of {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");
        return fallback;
    }

    private static int? ParseInt(IConfigurationSection job, string key, string at, List<string> problems)
    {
        if (job[key] is not { } text) return null;
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)) return value;
        problems.Add($"{at}:{key}: '{text}' is not a whole number");
        return null;
    }
}
