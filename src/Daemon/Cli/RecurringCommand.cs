using System.CommandLine;
using System.Globalization;
using Jobsd.Queue.Recurring;

namespace Jobsd.Daemon.Cli;

/// <summary><c>jobsd recurring next|list|trigger|pause|resume|remove</c>.</summary>
public static class RecurringCommand
{
    private static readonly Argument<string> Name = new("name") { Description = "Recurring job name" };
    private static readonly Argument<string> Cron = new("cron") { Description = "Cron expression, e.g. \"0 3 * * *\" (quote it)" };
    private static readonly Option<string> Zone = new("--tz") { Description = "IANA time zone (default UTC)", DefaultValueFactory = _ => "UTC" };
    private static readonly Option<string?> From = new("--from") { Description = "Start after this time (ISO 8601; default now)" };
    private static readonly Option<int> Count = new("--count") { Description = "How many fire times (default 5)", DefaultValueFactory = _ => 5 };
    private static readonly Argument<string> Kind = new("kind") { Description = "The job kind each fire enqueues" };
    private static readonly Option<string> Args = new("--args") { Description = "Args as a JSON object with snake_case names", DefaultValueFactory = _ => "{}" };
    private static readonly Option<string?> QueueName = new("--queue") { Description = "Queue (default: the kind's queue)" };
    private static readonly Option<string> Misfire = new("--misfire") { Description = "once | all | skip (default once)", DefaultValueFactory = _ => "once" };
    private static readonly Option<string> Overlap = new("--overlap") { Description = "allow | skip (default allow)", DefaultValueFactory = _ => "allow" };

    public static Command Create()
    {
        var next = new Command("next", "Print the next fire times of a cron expression (no database needed)") { Cron, Zone, From, Count };
        next.SetAction(parse => Next(parse));
        var list = new Command("list", "Recurring jobs: schedule, zone, next run (UTC and local), last run and its job's state");
        list.SetAction((parse, ct) => JobsCommand.WithCliAsync(parse, async cli =>
        {
            var jobs = await cli.Recurring.ListAsync(ct);
            Console.WriteLine($"{"NAME",-24}  {"CRON",-16}  {"ZONE",-16}  {"NEXT (UTC)",-20}  {"NEXT (LOCAL)",-25}  {"LAST RUN (UTC)",-20}  {"LAST JOB",-10}  {"STATE",-10}  STATUS");
            foreach (var r in jobs)
            {
                var status = r.Paused ? "paused" : !r.Enabled ? "disabled" : "active";
                if (r.LastError is { } error) status += $"; error: {error}";
                if (r.SkippedCount > 0) status += $"; skipped {r.SkippedCount} (last {Utc(r.LastSkippedAt)})";
                Console.WriteLine($"{r.Name,-24}  {r.Cron,-16}  {r.TimeZone,-16}  {Utc(r.NextRunAt),-20}  {(r.NextRunLocal is { } l ? CronSchedule.Format(l) : "-"),-25}  " +
                                  $"{Utc(r.LastRunAt),-20}  {r.LastJobId?.ToString(CultureInfo.InvariantCulture) ?? "-",-10}  {r.LastJobState ?? "-",-10}  {status}");
            }
            return 0;
        }));

        var trigger = new Command("trigger", "Enqueue a run now, outside the schedule") { Name };
        trigger.SetAction((parse, ct) => JobsCommand.WithCliAsync(parse, async cli =>
        {
            var name = parse.GetValue(Name)!;
            var id = await cli.Recurring.TriggerAsync(name, ct);
            return Report(name, id is null ? RecurringActionResult.NotFound : RecurringActionResult.Done, $"triggered: job {id}");
        }));

        var set = new Command("set", "Define or change a recurring job (source api: start-up synchronisation leaves it alone)")
        {
            Name, Cron, Kind, Args, Zone, QueueName, Misfire, Overlap,
        };
        set.SetAction((parse, ct) => JobsCommand.WithCliAsync(parse, async cli =>
        {
            var name = parse.GetValue(Name)!;
            var problems = new List<string>();
            var misfire = Policy<MisfirePolicy>(parse.GetValue(Misfire)!, "--misfire", problems);
            var overlap = Policy<OverlapPolicy>(parse.GetValue(Overlap)!, "--overlap", problems);
            var args = parse.GetValue(Args)!;
            try
            {
                if (System.Text.Json.Nodes.JsonNode.Parse(args) is not System.Text.Json.Nodes.JsonObject) problems.Add("--args: must be a JSON object");
            }
            catch (System.Text.Json.JsonException e)
            {
                problems.Add($"--args: not valid JSON: {e.Message}");
            }
            if (problems.Count == 0)
            {
                problems.AddRange(await cli.Recurring.DefineAsync(new RecurringDefinition(name, parse.GetValue(Cron)!, parse.GetValue(Kind)!, args,
                    RecurringSource.Api, parse.GetValue(Zone)!, parse.GetValue(QueueName), Misfire: misfire, Overlap: overlap), ct: ct));
            }
            if (problems.Count > 0)
            {
                foreach (var problem in problems) await Console.Error.WriteLineAsync($"jobsd: recurring set: {problem}");
                return 2;
            }
            var defined = await cli.Recurring.GetAsync(name, ct);
            Console.WriteLine($"recurring job {name}: set; next run {(defined?.NextRunLocal is { } n ? CronSchedule.Format(n) : "-")}");
            return 0;
        }));

        return new Command("recurring", "Inspect and steer recurring (cron) jobs")
        {
            next, list, set, trigger,
            Action("pause", "Stop firing until resumed (a running job continues)", (c, n, ct) => c.PauseAsync(n, ct), "paused"),
            Action("resume", "Fire again from the next occurrence (what fell in the pause is not caught up)", (c, n, ct) => c.ResumeAsync(n, ct), "resumed"),
            Action("remove", "Delete the schedule (its jobs stay; one defined in code or configuration returns at the next start)", (c, n, ct) => c.RemoveAsync(n, ct), "removed"),
        };
    }

    private static Command Action(string verb, string description, Func<RecurringClient, string, CancellationToken, Task<RecurringActionResult>> act, string done)
    {
        var command = new Command(verb, description) { Name };
        command.SetAction((parse, ct) => JobsCommand.WithCliAsync(parse, async cli =>
        {
            var name = parse.GetValue(Name)!;
            return Report(name, await act(cli.Recurring, name, ct), done);
        }));
        return command;
    }

    private static int Report(string name, RecurringActionResult result, string done)
    {
        if (result == RecurringActionResult.NotFound)
        {
            Console.Error.WriteLine($"recurring job {name}: not found (see jobsd recurring list)");
            return 1;
        }
        Console.WriteLine($"recurring job {name}: {done}");
        return 0;
    }

    private static T Policy<T>(string text, string option, List<string> problems) where T : struct, Enum
    {
        if (Enum.TryParse<T>(text, ignoreCase: true, out var value) && Enum.IsDefined(value) && !int.TryParse(text, out _)) return value;
        problems.Add($"{option}: '{text}' is not one of {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");
        return default;
    }

    private static int Next(ParseResult parse)
    {
        try
        {
            var schedule = CronSchedule.Parse(parse.GetValue(Cron)!);
            var zone = TimeZones.Find(parse.GetValue(Zone));
            var from = DateTimeOffset.UtcNow;
            if (parse.GetValue(From) is { } text && !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out from))
            {
                Console.Error.WriteLine($"jobsd: recurring next: --from: '{text}' is not a time (ISO 8601, e.g. 2026-10-25T00:00:00Z)");
                return 2;
            }
            var count = parse.GetValue(Count);
            if (count is < 1 or > 10_000)
            {
                Console.Error.WriteLine("jobsd: recurring next: --count: must be between 1 and 10000");
                return 2;
            }
            foreach (var fire in schedule.Occurrences(from, zone).Take(count)) Console.WriteLine(CronSchedule.Format(fire));
            return 0;
        }
        catch (CronFormatException e)
        {
            Console.Error.WriteLine($"jobsd: recurring next: {e.Message}");
            return 2;
        }
    }

    private static string Utc(DateTimeOffset? at) => at is { } a ? a.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "-";
}
