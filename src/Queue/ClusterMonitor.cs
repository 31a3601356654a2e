using System.Text.Json;
using Dapper;
using Npgsql;

namespace Jobsd.Queue;

public sealed record QueueOverview(string Queue, bool Paused, long Scheduled, long Enqueued, long Processing, long Failed, int Busy, int Workers, TimeSpan? OldestEnqueuedAge);

/// <summary>
/// Jobs per state. Active states, failed and deleted are exact (each counted on its own partial
/// index); succeeded jobs can be millions, so they come from the per-minute stats of the last 24 hours.
/// </summary>
public sealed record StateCounts(long Scheduled, long Enqueued, long Processing, long Failed, long Deleted, long SucceededLastDay, long FailedLastDay);

public sealed record MinuteStat(DateTime Minute, long Succeeded, long Failed);

public sealed record Overview(StateCounts Counts, IReadOnlyList<QueueOverview> Queues, IReadOnlyList<MinuteStat> LastHour);

public sealed record NodeInfo(string Name, string Host, int Pid, string Version, DateTime StartedAt, TimeSpan HeartbeatAge,
    IReadOnlyDictionary<string, int> Workers, IReadOnlyDictionary<string, int> Busy, bool Leader);

/// <summary>
/// What operators watch across the cluster: the overview and the nodes. Every figure comes
/// from a partial index, a small table or the stats table, so the overview stays cheap on a
/// table with millions of finished jobs (it is refreshed every few seconds).
/// </summary>
public sealed class ClusterMonitor(NpgsqlDataSource dataSource, TimeProvider clock)
{
    public async Task<Overview> OverviewAsync(CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var grid = await connection.QueryMultipleAsync(new CommandDefinition("""
            select queue, count(*) as n, min(scheduled_at) as oldest from queue.jobs where state = 'enqueued' group by queue;
            select queue, count(*) as n from queue.jobs where state = 'scheduled' group by queue;
            select queue, count(*) as n from queue.jobs where state = 'processing' group by queue;
            select queue, count(*) as n from queue.jobs where state = 'failed' group by queue;
            select count(*) from queue.jobs where state = 'deleted';
            select name, paused from queue.queues;
            select queues::text as workers, busy::text as busy from queue.nodes where heartbeat_at > now() - interval '1 minute';
            select date_trunc('minute', @now::timestamptz) - make_interval(mins => m) as minute,
                   coalesce(sum(s.succeeded), 0)::bigint as succeeded, coalesce(sum(s.failed), 0)::bigint as failed
            from generate_series(59, 0, -1) as m
            left join queue.stats s on s.minute = date_trunc('minute', @now::timestamptz) - make_interval(mins => m)
            group by m order by m desc;
            select coalesce(sum(succeeded), 0)::bigint, coalesce(sum(failed), 0)::bigint from queue.stats where minute > @now::timestamptz - interval '1 day';
            """, new { now = clock.GetUtcNow() }, cancellationToken: ct));
        var enqueued = (await grid.ReadAsync<(string Queue, long N, DateTime Oldest)>()).ToDictionary(r => r.Queue);
        var scheduled = (await grid.ReadAsync<(string Queue, long N)>()).ToDictionary(r => r.Queue, r => r.N);
        var processing = (await grid.ReadAsync<(string Queue, long N)>()).ToDictionary(r => r.Queue, r => r.N);
        var failed = (await grid.ReadAsync<(string Queue, long N)>()).ToDictionary(r => r.Queue, r => r.N);
        var deleted = await grid.ReadSingleAsync<long>();
        var paused = (await grid.ReadAsync<(string Name, bool Paused)>()).ToDictionary(r => r.Name, r => r.Paused);
        var workers = new Dictionary<string, int>(StringComparer.Ordinal);
        var busy = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (w, b) in await grid.ReadAsync<(string Workers, string Busy)>())
        {
            Add(workers, w);
            Add(busy, b);
        }
        var lastHour = (await grid.ReadAsync<MinuteStat>()).ToList();
        var (succeededDay, failedDay) = await grid.ReadSingleAsync<(long, long)>();

        var now = clock.GetUtcNow().UtcDateTime;
        var names = enqueued.Keys.Concat(scheduled.Keys).Concat(processing.Keys).Concat(failed.Keys).Concat(paused.Keys).Concat(workers.Keys)
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var queues = names.Select(q => new QueueOverview(q, paused.GetValueOrDefault(q), scheduled.GetValueOrDefault(q),
            enqueued.TryGetValue(q, out var e) ? e.N : 0, processing.GetValueOrDefault(q), failed.GetValueOrDefault(q),
            busy.GetValueOrDefault(q), workers.GetValueOrDefault(q),
            enqueued.TryGetValue(q, out var oldest) ? Max(now - DateTime.SpecifyKind(oldest.Oldest, DateTimeKind.Utc)) : null)).ToList();
        var counts = new StateCounts(scheduled.Values.Sum(), enqueued.Values.Sum(r => r.N), processing.Values.Sum(), failed.Values.Sum(), deleted, succeededDay, failedDay);
        return new Overview(counts, queues, lastHour);
    }

    public async Task<IReadOnlyList<NodeInfo>> NodesAsync(CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<(string Name, string Host, int Pid, string Version, DateTime StartedAt, double Age, string Queues, string Busy, bool Leader)>(
            new CommandDefinition("""
                select n.name, n.host, n.pid, n.version, n.started_at, extract(epoch from @now::timestamptz - n.heartbeat_at)::float8,
                       n.queues::text, n.busy::text, coalesce(l.node = n.name and l.expires_at > now(), false)
                from queue.nodes n left join queue.leader l on true
                order by n.name
                """, new { now = clock.GetUtcNow() }, cancellationToken: ct));
        return rows.Select(r => new NodeInfo(r.Name, r.Host, r.Pid, r.Version, DateTime.SpecifyKind(r.StartedAt, DateTimeKind.Utc),
            TimeSpan.FromSeconds(Math.Max(0, r.Age)), Parse(r.Queues), Parse(r.Busy), r.Leader)).ToList();
    }

    private static TimeSpan Max(TimeSpan t) => t < TimeSpan.Zero ? TimeSpan.Zero : t;

    private static Dictionary<string, int> Parse(string json) =>
        JsonSerializer.Deserialize<Dictionary<string, int>>(json) ?? [];

    private static void Add(Dictionary<string, int> into, string json)
    {
        foreach (var (queue, n) in Parse(json)) into[queue] = into.GetValueOrDefault(queue) + n;
    }
}
