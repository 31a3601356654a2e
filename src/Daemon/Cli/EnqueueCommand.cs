using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Jobsd.Daemon.Configuration;
using Jobsd.Queue;
using Npgsql;

namespace Jobsd.Daemon.Cli;

/// <summary><c>jobsd enqueue KIND [--args JSON] [--queue Q] [--at TIME | --in DURATION] [--priority N] [--unique-key K]</c>.</summary>
public static class EnqueueCommand
{
    private static readonly Argument<string> Kind = new("kind") { Description = "The job kind (e.g. noop)" };
    private static readonly Option<string> Args = new("--args") { Description = "Args as a JSON object with snake_case names", DefaultValueFactory = _ => "{}" };
    private static readonly Option<string?> QueueName = new("--queue") { Description = "Queue (default: the kind's queue)" };
    private static readonly Option<string?> At = new("--at") { Description = "Run at this time (ISO 8601, e.g. 2026-12-01T03:00:00Z)" };
    private static readonly Option<string?> In = new("--in") { Description = "Run after this delay (90s, 15m, 2h, 1d)" };
    private static readonly Option<short> Priority = new("--priority") { Description = "Lower runs first (0-32767); default 0" };
    private static readonly Option<string?> UniqueKey = new("--unique-key") { Description = "Return the active job with this key instead of adding another" };
    private static readonly Option<bool> AllowUnknown = new("--allow-unknown") { Description = "Enqueue a kind no node has registered yet" };

    public static Command Create()
    {
        var command = new Command("enqueue", "Enqueue a job") { Kind, Args, QueueName, At, In, Priority, UniqueKey, AllowUnknown };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken ct)
    {
        var problems = new List<string>();
        var args = parse.GetValue(Args)!;
        try
        {
            using var doc = JsonDocument.Parse(args);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) problems.Add($"--args: must be a JSON object, got {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}");
        }
        catch (JsonException e)
        {
            problems.Add($"--args: not valid JSON: {e.Message}");
        }
        DateTimeOffset? runAt = null;
        if (parse.GetValue(At) is { } at && parse.GetValue(In) is not null) problems.Add("--at and --in: give one, not both");
        else if (parse.GetValue(At) is { } atText)
        {
            if (DateTimeOffset.TryParse(atText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)) runAt = parsed;
            else problems.Add($"--at: '{atText}' is not a time (ISO 8601, e.g. 2026-12-01T03:00:00Z)");
        }
        else if (parse.GetValue(In) is { } inText)
        {
            if (DurationParser.TryParse(inText, out var delay)) runAt = DateTimeOffset.UtcNow + delay;
            else problems.Add($"--in: '{inText}' is not a duration (e.g. 90s, 15m, 2h, 1d)");
        }
        if (parse.GetValue(Priority) < 0) problems.Add("--priority: must be between 0 and 32767");
        if (problems.Count > 0)
        {
            foreach (var p in problems) await Console.Error.WriteLineAsync($"jobsd: enqueue: {p}");
            return 2;
        }

        await using var cli = CliContext.Open(parse);
        if (cli is null) return ConfigurationException.ExitCode;
        try
        {
            var result = await cli.Client.EnqueueRawAsync(parse.GetValue(Kind)!, args, new EnqueueOptions
            {
                Queue = parse.GetValue(QueueName),
                RunAt = runAt,
                Priority = parse.GetValue(Priority),
                UniqueKey = parse.GetValue(UniqueKey),
            }, parse.GetValue(AllowUnknown), ct: ct);
            Console.WriteLine(result.Existing
                ? $"job {result.Id} already exists with unique key '{parse.GetValue(UniqueKey)}'"
                : $"enqueued job {result.Id}" + (runAt is { } r && r > DateTimeOffset.UtcNow ? $" to run at {r:O}" : ""));
            return 0;
        }
        catch (PostgresException e) when (e.SqlState == "22023")
        {
            await Console.Error.WriteLineAsync($"jobsd: enqueue: {e.MessageText.Replace("queue.enqueue: ", "")}");
            return 1;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await Console.Error.WriteLineAsync($"jobsd: enqueue: {cli.Unreachable(e)}");
            return 1;
        }
    }
}
