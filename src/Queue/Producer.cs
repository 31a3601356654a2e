using System.Diagnostics;
using Jobsd.Queue.Health;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue;

/// <summary>
/// Feeds one queue's workers. Wakes on a NOTIFY for its queue, on a finished job, or on the
/// poll tick (jittered, so nodes do not poll in lockstep); claims at most its free worker
/// slots in one statement and starts each job on the executor. Stops claiming the moment
/// <see cref="RunAsync"/>'s claim token is cancelled; running jobs are the engine's to wait for.
/// </summary>
public sealed partial class Producer(
    string queue,
    int workers,
    NpgsqlDataSource dataSource,
    JobExecutor executor,
    NodeIdentity node,
    QueueOptions options,
    LoopHealth health,
    ILogger<Producer> logger)
{
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly List<Task> _inFlight = [];
    private readonly Lock _gate = new();
    private int _busy;

    public string Queue => queue;
    public int Busy => Volatile.Read(ref _busy);
    public int Workers => workers;
    private string LoopName => "producer:" + queue;

    /// <summary>Something may be runnable: fetch now rather than at the next tick.</summary>
    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already awake.
        }
    }

    /// <param name="claiming">Cancelled when this node must stop taking new work.</param>
    /// <param name="hardStop">Cancelled when running jobs must be interrupted (passed to handlers).</param>
    public async Task RunAsync(CancellationToken claiming, CancellationToken hardStop)
    {
        health.Register(LoopName, options.PollInterval);
        var failures = 0;
        var lastClaim = 0L;
        try
        {
            while (!claiming.IsCancellationRequested)
            {
                // Fetch cooldown: when jobs finish faster than a claim's round trip, waiting a moment
                // lets slots pile up, so one claim fills many of them instead of one each.
                var sinceLast = Stopwatch.GetElapsedTime(lastClaim);
                if (sinceLast < options.FetchCooldown && Busy > 0)
                {
                    await Task.Delay(options.FetchCooldown - sinceLast, CancellationToken.None);
                }
                var free = workers - Busy;
                var claimed = 0;
                if (free > 0)
                {
                    lastClaim = Stopwatch.GetTimestamp();
                    try
                    {
                        claimed = await ClaimAsync(free, claiming, hardStop);
                        failures = 0;
                        health.Passed(LoopName);
                    }
                    catch (OperationCanceledException) when (claiming.IsCancellationRequested)
                    {
                        break;
                    }
                    catch (Exception e) when (!hardStop.IsCancellationRequested)
                    {
                        failures++;
                        health.Failed(LoopName, e.Message);
                        if (failures == 1 || failures % 30 == 0) ClaimFailed(logger, queue, failures, e.Message);
                    }
                }
                else
                {
                    // All workers busy: not wedged, just full.
                    health.Passed(LoopName);
                }
                // A full claim suggests more is waiting: go again at once if slots are free.
                if (claimed > 0 && claimed == free) continue;
                await WaitAsync(claiming);
            }
        }
        finally
        {
            health.Unregister(LoopName);
        }
    }

    /// <summary>Completes when every job this producer started has finished.</summary>
    public Task DrainAsync()
    {
        lock (_gate) return Task.WhenAll(_inFlight.ToArray());
    }

    private async Task WaitAsync(CancellationToken ct)
    {
        var jitter = options.PollInterval * (0.8 + Random.Shared.NextDouble() * 0.4);
        try
        {
            await _wake.WaitAsync(jitter, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<int> ClaimAsync(int limit, CancellationToken claiming, CancellationToken hardStop)
    {
        var jobs = new List<ClaimedJob>(limit);
        await using (var command = dataSource.CreateCommand(JobQueries.Claim))
        {
            command.Parameters.AddWithValue("queue", queue);
            command.Parameters.AddWithValue("limit", limit);
            command.Parameters.AddWithValue("node", node.Name);
            // Not cancelled by `claiming`: a claim that reached the database must be seen through,
            // or claimed rows would sit in processing until a rescue.
            await using var reader = await command.ExecuteReaderAsync(hardStop);
            while (await reader.ReadAsync(hardStop))
            {
                jobs.Add(new ClaimedJob(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    reader.GetInt32(4), reader.GetInt32(5), reader.GetDateTime(6), reader.GetDateTime(7)));
            }
        }
        foreach (var job in jobs)
        {
            Interlocked.Increment(ref _busy);
            var task = Task.Run(async () =>
            {
                try
                {
                    await executor.ExecuteAsync(job, hardStop);
                }
                finally
                {
                    Interlocked.Decrement(ref _busy);
                    Wake();
                }
            }, CancellationToken.None);
            lock (_gate)
            {
                _inFlight.RemoveAll(t => t.IsCompleted);
                _inFlight.Add(task);
            }
        }
        return jobs.Count;
    }

    [LoggerMessage(EventId = 5301, Level = LogLevel.Warning, Message = "Claiming from queue {Queue} failed ({Failures} in a row): {Error}")]
    private static partial void ClaimFailed(ILogger logger, string queue, int failures, string error);
}
