using Jobsd.Queue.Health;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue;

/// <summary>
/// Leadership as a lease row (<c>queue.leader</c>) with a TTL: works behind poolers, unlike
/// session advisory locks. The leader renews at a third of the TTL; a follower takes the row
/// only after it expired, or at once when the leader resigned (NOTIFY on stop). Maintenance
/// runs only while <see cref="IsLeader"/>; a leader that fails to renew steps down before its
/// lease can have expired.
/// </summary>
public sealed partial class LeaderElector(NpgsqlDataSource dataSource, NodeIdentity node, QueueOptions options, LoopHealth health, ILogger<LeaderElector> logger)
{
    internal const string LoopName = "elector";
    private readonly SemaphoreSlim _wake = new(0, 1);
    private volatile bool _isLeader;
    private volatile bool _resigned;

    public bool IsLeader => _isLeader;

    public event Action<bool>? LeadershipChanged;

    /// <summary>The leader resigned: try now rather than at the next tick.</summary>
    public void Wake()
    {
        try { if (_wake.CurrentCount == 0) _wake.Release(); } catch (SemaphoreFullException) { }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var interval = options.LeaderTtl / 3;
        health.Register(LoopName, interval);
        try
        {
            while (!ct.IsCancellationRequested && !_resigned)
            {
                try
                {
                    var leader = await TryAcquireOrRenewAsync(ct);
                    if (_resigned) break;
                    Set(leader);
                    health.Passed(LoopName);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    health.Failed(LoopName, e.Message);
                    // Cannot prove we still hold the lease: step down rather than risk two leaders.
                    if (_isLeader) Set(false);
                    ElectionFailed(logger, e.Message);
                }
                try
                {
                    await _wake.WaitAsync(interval, ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        finally
        {
            health.Unregister(LoopName);
        }
    }

    private async Task<bool> TryAcquireOrRenewAsync(CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("""
            insert into queue.leader as l (id, node, elected_at, expires_at)
            values (1, @node, now(), now() + @ttl)
            on conflict (id) do update
            set node = excluded.node,
                elected_at = case when l.node = excluded.node then l.elected_at else now() end,
                expires_at = excluded.expires_at
            where l.node = excluded.node or l.expires_at < now()
            returning node
            """);
        command.Parameters.AddWithValue("node", node.Name);
        command.Parameters.AddWithValue("ttl", options.LeaderTtl);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.LeaderTtl / 3);
        return await command.ExecuteScalarAsync(timeout.Token) is string;
    }

    /// <summary>Gives the lease up on a clean stop and tells the others, so one takes over at once.</summary>
    public async Task ResignAsync(CancellationToken ct)
    {
        // A stopping node must not win the election its own resignation starts.
        _resigned = true;
        if (!_isLeader) return;
        Set(false);
        await using var command = dataSource.CreateCommand(
            "delete from queue.leader where node = @node; select pg_notify(@channel, 'leader_resigned')");
        command.Parameters.AddWithValue("node", node.Name);
        command.Parameters.AddWithValue("channel", PgNotifier.ControlChannel);
        await command.ExecuteNonQueryAsync(ct);
    }

    private void Set(bool leader)
    {
        if (_isLeader == leader) return;
        _isLeader = leader;
        if (leader) BecameLeader(logger, node.Name); else LostLeadership(logger, node.Name);
        LeadershipChanged?.Invoke(leader);
    }

    [LoggerMessage(EventId = 5501, Level = LogLevel.Information, Message = "Node {Node} is the leader")]
    private static partial void BecameLeader(ILogger logger, string node);

    [LoggerMessage(EventId = 5502, Level = LogLevel.Information, Message = "Node {Node} is no longer the leader")]
    private static partial void LostLeadership(ILogger logger, string node);

    [LoggerMessage(EventId = 5503, Level = LogLevel.Warning, Message = "Leader election failed: {Error}")]
    private static partial void ElectionFailed(ILogger logger, string error);
}
