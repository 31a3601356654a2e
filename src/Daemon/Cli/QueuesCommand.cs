using System.CommandLine;

namespace Jobsd.Daemon.Cli;

/// <summary><c>jobsd queues list|pause|resume</c>.</summary>
public static class QueuesCommand
{
    private static readonly Argument<string> Name = new("queue") { Description = "Queue name" };

    public static Command Create()
    {
        var list = new Command("list", "Jobs per queue and state, and whether the queue is paused");
        list.SetAction((parse, ct) => JobsCommand.WithCliAsync(parse, async cli =>
        {
            Console.WriteLine($"{"QUEUE",-16}  {"PAUSED",-6}  {"SCHEDULED",9}  {"ENQUEUED",9}  {"PROCESSING",10}  {"SUCCEEDED",9}  {"FAILED",7}  {"DELETED",7}");
            foreach (var q in await cli.Monitor.QueuesAsync(ct))
            {
                Console.WriteLine($"{q.Queue,-16}  {(q.Paused ? "yes" : "no"),-6}  {q.Scheduled,9}  {q.Enqueued,9}  {q.Processing,10}  {q.Succeeded,9}  {q.Failed,7}  {q.Deleted,7}");
            }
            return 0;
        }));
        return new Command("queues", "Inspect, pause and resume queues (cluster-wide)")
        {
            list,
            Toggle("pause", "Stop every node claiming from a queue (running jobs finish)", paused: true),
            Toggle("resume", "Let nodes claim from a paused queue again", paused: false),
        };
    }

    private static Command Toggle(string verb, string description, bool paused)
    {
        var command = new Command(verb, description) { Name };
        command.SetAction((parse, ct) => JobsCommand.WithCliAsync(parse, async cli =>
        {
            var queue = parse.GetValue(Name)!;
            try
            {
                if (paused) await cli.Client.PauseQueueAsync(queue, ct);
                else await cli.Client.ResumeQueueAsync(queue, ct);
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"jobsd: queues {verb}: {e.Message.Split(" (Parameter")[0]}");
                return 2;
            }
            Console.WriteLine($"queue {queue}: {(paused ? "paused" : "resumed")}");
            return 0;
        }));
        return command;
    }
}
