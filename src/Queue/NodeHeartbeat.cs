using System.Text.Json;
using Jobsd.Queue.Health;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue;

/// <summary>
/// Keeps this node's row in <c>queue.nodes</c> fresh. If the heartbeat cannot be renewed for
/// half of <see cref="QueueOptions.NodeTimeout"/>, the node assumes it is about to be declared
/// dead and its jobs rescued: it raises <see cref="Lost"/>, and the engine stops claiming and
/// cancels its running jobs, so a job never runs on two nodes at once. Removes the row on a
/// clean stop.
/// </summary>
public sealed partial class NodeHeartbeat(NpgsqlDataSource dataSource, NodeIdentity node, QueueOptions options, JobRegistry registry, TimeProvider clock, LoopHealth health, ILogger<NodeHeartbeat> logger)
{
    internal const string LoopName = "heartbeat";

    /// <summary>Raised once when the heartbeat has failed for half the node timeout.</summary>
    public event Action? Lost;

    /// <summary>Busy workers per queue, reported with each beat (set by the engine once its producers exist).</summary>
    public Func<IReadOnlyDictionary<string, int>>? Busy { get; set; }

    public async Task RegisterAsync(IReadOnlyDictionary<string, int> queues, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            insert into queue.nodes (name, host, pid, version, queues) values (@name, @host, @pid, @version, @queues::jsonb)
            on conflict (name) do update set heartbeat_at = now(), queues = excluded.queues;
            insert into queue.kinds (kind, queue, max_attempts, node, seen_at)
            select * , now() from unnest(@kinds, @kind_queues, @kind_attempts, @kind_nodes)
            on conflict (kind) do update set queue = excluded.queue, max_attempts = excluded.max_attempts, node = excluded.node, seen_at = now();
            """);
        var kinds = registry.All.ToList();
        command.Parameters.AddWithValue("name", node.Name);
        command.Parameters.AddWithValue("host", node.Host);
        command.Parameters.AddWithValue("pid", Environment.ProcessId);
        command.Parameters.AddWithValue("version", typeof(NodeHeartbeat).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
        command.Parameters.AddWithValue("queues", JsonSerializer.Serialize(queues));
        command.Parameters.AddWithValue("kinds", kinds.Select(k => k.Kind).ToArray());
        command.Parameters.AddWithValue("kind_queues", kinds.Select(k => k.Options.Queue).ToArray());
        command.Parameters.AddWithValue("kind_attempts", kinds.Select(k => k.Options.MaxAttempts).ToArray());
        command.Parameters.AddWithValue("kind_nodes", kinds.Select(_ => node.Name).ToArray());
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task RunAsync(CancellationToken ct)
    {
        health.Register(LoopName, options.HeartbeatInterval);
        var lastSuccess = clock.GetUtcNow();
        var lost = false;
        try
        {
            using var timer = new PeriodicTimer(options.HeartbeatInterval, clock);
            while (await timer.WaitForNextTickAsync(ct))
            {
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    timeout.CancelAfter(options.HeartbeatInterval);
                    await using var command = dataSource.CreateCommand(
                        "update queue.nodes set heartbeat_at = now(), busy = @busy::jsonb where name = @name");
                    command.Parameters.AddWithValue("name", node.Name);
                    command.Parameters.AddWithValue("busy", JsonSerializer.Serialize(Busy?.Invoke() ?? new Dictionary<string, int>()));
                    if (await command.ExecuteNonQueryAsync(timeout.Token) == 0)
                    {
                        // Our row was removed: we were declared dead and our jobs rescued.
                        throw new InvalidOperationException("this node's row is gone (declared dead)");
                    }
                    lastSuccess = clock.GetUtcNow();
                    health.Passed(LoopName);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    health.Failed(LoopName, e.Message);
                    HeartbeatFailed(logger, e.Message);
                    if (!lost && (clock.GetUtcNow() - lastSuccess >= options.NodeTimeout / 2 || e is InvalidOperationException))
                    {
                        lost = true;
                        NodeLost(logger, node.Name);
                        Lost?.Invoke();
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            health.Unregister(LoopName);
        }
    }

    /// <summary>Clean stop: the row goes, so nobody waits for a timeout to know we left.</summary>
    public async Task UnregisterAsync(CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("delete from queue.nodes where name = @name");
        command.Parameters.AddWithValue("name", node.Name);
        await command.ExecuteNonQueryAsync(ct);
    }

    [LoggerMessage(EventId = 5401, Level = LogLevel.Warning, Message = "Heartbeat failed: {Error}")]
    private static partial void HeartbeatFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 5402, Level = LogLevel.Error, Message = "Node {Node} could not renew its heartbeat for half the node timeout: stopping its jobs before they are rescued elsewhere")]
    private static partial void NodeLost(ILogger logger, string node);
}
