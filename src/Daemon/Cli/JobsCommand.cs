using System.CommandLine;
using Jobsd.Daemon.Configuration;
using Jobsd.Queue;
using Npgsql;

namespace Jobsd.Daemon.Cli;

/// <summary><c>jobsd jobs list|show|retry|cancel|delete</c>.</summary>
public static class JobsCommand
{
    private static readonly Option<string?> State = new("--state") { Description = $"Only jobs in this state ({string.Join(", ", JobMonitor.States)})" };
    private static readonly Option<string?> QueueName = new("--queue") { Description = "Only jobs of this queue" };
    private static readonly Option<string?> Kind = new("--kind") { Description = "Only jobs of this kind" };
    private static readonly Option<int> Limit = new("--limit") { Description = "At most this many (newest first)", DefaultValueFactory = _ => 50 };
    private static readonly Argument<long> Id = new("id") { Description = "Job id" };

    public static Command Create()
    {
        var list = new Command("list", "List jobs, newest first") { State, QueueName, Kind, Limit };
        list.SetAction(ListAsync);
        var show = new Command("show", "Show one job: args, attempts, errors with stack traces") { Id };
        show.SetAction(ShowAsync);
        return new Command("jobs", "Inspect and steer jobs")
        {
            list,
            show,
            Action("retry", "Requeue a failed or deleted job", (c, id, ct) => c.RetryAsync(id, ct)),
            Action("cancel", "Cancel a job (a running job's token is cancelled; it ends deleted)", (c, id, ct) => c.CancelAsync(id, "cancelled from the command line", ct)),
            Action("delete", "Delete a scheduled, enqueued or failed job", (c, id, ct) => c.DeleteAsync(id, "deleted from the command line", ct)),
        };
    }

    private static Command Action(string name, string description, Func<JobClient, long, CancellationToken, Task<JobActionResult>> act)
    {
        var command = new Command(name, description) { Id };
        command.SetAction((parse, ct) => WithCliAsync(parse, async cli =>
        {
            var id = parse.GetValue(Id);
            var result = await act(cli.Client, id, ct);
            var (text, code) = result switch
            {
                JobActionResult.Done => ($"job {id}: {name} done", 0),
                JobActionResult.CancelRequested => ($"job {id}: running; its node was asked to cancel it", 0),
                JobActionResult.NotFound => ($"job {id}: not found", 1),
                _ => ($"job {id}: its state does not allow {name} (see jobsd jobs show {id})", 1),
            };
            (code == 0 ? Console.Out : Console.Error).WriteLine(text);
            return code;
        }));
        return command;
    }

    private static Task<int> ListAsync(ParseResult parse, CancellationToken ct) => WithCliAsync(parse, async cli =>
    {
        IReadOnlyList<JobSummary> jobs;
        try
        {
            jobs = await cli.Monitor.ListAsync(new JobFilter(parse.GetValue(State), parse.GetValue(QueueName), parse.GetValue(Kind), parse.GetValue(Limit)), ct);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"jobsd: jobs list: --state: {e.Message.Split(" (Parameter")[0]}");
            return 2;
        }
        Console.WriteLine($"{"ID",10}  {"STATE",-10}  {"QUEUE",-12}  {"KIND",-20}  {"ATTEMPT",7}  {"SCHEDULED (UTC)",-19}  NODE");
        foreach (var j in jobs)
        {
            Console.WriteLine($"{j.Id,10}  {j.State,-10}  {j.Queue,-12}  {j.Kind,-20}  {j.Attempt + "/" + j.MaxAttempts,7}  {j.ScheduledAt:yyyy-MM-dd HH:mm:ss}  {j.Node}");
        }
        return 0;
    });

    private static Task<int> ShowAsync(ParseResult parse, CancellationToken ct) => WithCliAsync(parse, async cli =>
    {
        var id = parse.GetValue(Id);
        var job = await cli.Monitor.GetAsync(id, ct);
        if (job is null)
        {
            await Console.Error.WriteLineAsync($"job {id}: not found");
            return 1;
        }
        Console.WriteLine($"id:           {job.Id}");
        Console.WriteLine($"kind:         {job.Kind}");
        Console.WriteLine($"queue:        {job.Queue}");
        Console.WriteLine($"state:        {job.State}{(job.Reason is null ? "" : $" ({job.Reason})")}");
        Console.WriteLine($"attempt:      {job.Attempt}/{job.MaxAttempts}");
        Console.WriteLine($"priority:     {job.Priority}");
        Console.WriteLine($"created:      {job.CreatedAt:O}");
        Console.WriteLine($"scheduled:    {job.ScheduledAt:O}");
        Console.WriteLine($"started:      {job.StartedAt?.ToString("O") ?? "-"}");
        Console.WriteLine($"finished:     {job.FinishedAt?.ToString("O") ?? "-"}");
        Console.WriteLine($"node:         {job.Node ?? "-"}");
        Console.WriteLine($"unique key:   {job.UniqueKey ?? "-"}");
        Console.WriteLine($"tags:         {(job.Tags.Length == 0 ? "-" : string.Join(", ", job.Tags))}");
        Console.WriteLine($"args:\n{job.Args}");
        if (job.Result is not null) Console.WriteLine($"result:\n{job.Result}");
        Console.WriteLine($"errors:\n{job.Errors}");
        return 0;
    });

    internal static async Task<int> WithCliAsync(ParseResult parse, Func<CliContext, Task<int>> body)
    {
        await using var cli = CliContext.Open(parse);
        if (cli is null) return ConfigurationException.ExitCode;
        try
        {
            return await body(cli);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await Console.Error.WriteLineAsync($"jobsd: {cli.Unreachable(e)}");
            return 1;
        }
    }
}
