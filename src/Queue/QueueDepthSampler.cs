using Jobsd.Queue.Health;
using Npgsql;

namespace Jobsd.Queue;

/// <summary>
/// Samples queue depth for the <c>jobsd.queue.depth</c> gauge every few seconds, so a scrape
/// never waits on a count over a large table.
/// </summary>
public sealed class QueueDepthSampler(NpgsqlDataSource dataSource, JobsdMetrics metrics, TimeProvider clock, LoopHealth health)
{
    internal const string LoopName = "depth-sampler";
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    public async Task RunAsync(CancellationToken ct)
    {
        health.Register(LoopName, Interval);
        try
        {
            using var timer = new PeriodicTimer(Interval, clock);
            do
            {
                try
                {
                    var depth = new List<(string, string, long)>();
                    await using var command = dataSource.CreateCommand("""
                        select queue, state, count(*) from queue.jobs
                        where state in ('scheduled', 'enqueued', 'processing')
                        group by queue, state
                        """);
                    await using var reader = await command.ExecuteReaderAsync(ct);
                    while (await reader.ReadAsync(ct)) depth.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
                    metrics.SetDepth(depth);
                    health.Passed(LoopName);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    health.Failed(LoopName, e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            health.Unregister(LoopName);
        }
    }
}
