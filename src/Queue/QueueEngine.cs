using Jobsd.Data;
using Jobsd.Queue.Health;
using Jobsd.Queue.Maintenance;
using Jobsd.Queue.Recurring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Queue;

/// <summary>
/// The engine as one hosted service; its start and stop read as the node's lifecycle.
/// Start: wait for the database → register node and kinds → LISTEN → heartbeat, completer,
/// elector, leader maintenance → one producer per queue. Stop (SIGTERM): stop claiming →
/// let running jobs finish up to <see cref="QueueOptions.ShutdownTimeout"/> → cancel the rest,
/// which are handed back to <c>enqueued</c> → write every outcome → resign leadership →
/// remove the node row.
/// </summary>
public sealed partial class QueueEngine(
    IServiceProvider services,
    DatabaseReadiness readiness,
    QueueOptions options,
    JobRegistry registry,
    NodeIdentity node,
    IHostApplicationLifetime lifetime,
    ILogger<QueueEngine> logger) : IHostedService
{
    private readonly CancellationTokenSource _claiming = new();
    private readonly CancellationTokenSource _hardStop = new();
    private readonly CancellationTokenSource _loops = new();
    private readonly List<Task> _background = [];
    private readonly List<Task> _producerLoops = [];
    private readonly Dictionary<string, Producer> _producers = new(StringComparer.Ordinal);
    private Task? _run;
    private Task? _completerLoop;
    private BatchCompleter? _completer;
    private volatile bool _started;

    /// <summary>True once every loop runs (readiness, READY=1).</summary>
    public bool IsStarted => _started;

    public IReadOnlyCollection<Producer> Producers => _producers.Values;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _run = Task.Run(() => RunAsync(_loops.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task RunAsync(CancellationToken ct)
    {
        try
        {
            await readiness.WhenReady(ct);
            var heartbeat = services.GetRequiredService<NodeHeartbeat>();
            var queues = QueuesToServe();
            await RegisterWithRetryAsync(heartbeat, queues, ct);
            var synchronizer = services.GetRequiredService<RecurringSynchronizer>();
            await WithRetryAsync(() => synchronizer.SyncAsync(ct), ct);

            var executor = services.GetRequiredService<JobExecutor>();
            _completer = services.GetRequiredService<BatchCompleter>();
            var elector = services.GetRequiredService<LeaderElector>();
            foreach (var (queue, workers) in queues)
            {
                _producers[queue] = ActivatorUtilities.CreateInstance<Producer>(services, queue, workers);
            }
            // Outlives the hard stop: the hand-backs it causes must still be written.
            _completerLoop = Task.Run(() => _completer.RunAsync(_loops.Token), CancellationToken.None);

            if (options.UseNotify)
            {
                var notifier = services.GetRequiredService<PgNotifier>();
                notifier.JobsAvailable += queue =>
                {
                    if (queue.Length == 0) foreach (var p in _producers.Values) p.Wake();
                    else if (_producers.TryGetValue(queue, out var p)) p.Wake();
                };
                notifier.CancelRequested += id => executor.Cancel(id, null);
                notifier.Control += message =>
                {
                    if (message == "leader_resigned") elector.Wake();
                    else if (message.StartsWith("queue_resumed:", StringComparison.Ordinal) && _producers.TryGetValue(message["queue_resumed:".Length..], out var p)) p.Wake();
                };
                Start(() => notifier.RunAsync(ct));
            }
            heartbeat.Lost += OnNodeLost;
            heartbeat.Busy = () => _producers.Values.ToDictionary(p => p.Queue, p => p.Busy, StringComparer.Ordinal);
            Start(() => heartbeat.RunAsync(ct));
            Start(() => elector.RunAsync(ct));
            Start(() => services.GetRequiredService<JobScheduler>().RunAsync(ct));
            Start(() => services.GetRequiredService<JobRescuer>().RunAsync(ct));
            Start(() => services.GetRequiredService<JobPruner>().RunAsync(ct));
            Start(() => services.GetRequiredService<CronEnqueuer>().RunAsync(ct));
            Start(() => services.GetRequiredService<CancelWatcher>().RunAsync(ct));
            Start(() => services.GetRequiredService<QueueDepthSampler>().RunAsync(ct));
            services.GetRequiredService<JobsdMetrics>().ObserveWorkers(() => _producers.Values.Select(p => (p.Queue, p.Busy, p.Workers)));
            foreach (var producer in _producers.Values)
            {
                _producerLoops.Add(Task.Run(() => producer.RunAsync(_claiming.Token, _hardStop.Token), CancellationToken.None));
            }
            _started = true;
            EngineStarted(logger, node.Name, string.Join(", ", queues.Select(q => $"{q.Key}×{q.Value}")), string.Join(", ", registry.All.Select(k => k.Kind).Order()), options.UseNotify);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // A start that cannot complete must not leave a process that looks alive and does
            // nothing: say why and stop, so systemd restarts it (and the log shows the reason).
            StartFailed(logger, e);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    private void Start(Func<Task> loop) => _background.Add(Task.Run(loop, CancellationToken.None));

    private Dictionary<string, int> QueuesToServe()
    {
        var queues = options.Queues.ToDictionary(q => q.Key, q => q.Value.Workers, StringComparer.Ordinal);
        foreach (var queue in registry.Queues) queues.TryAdd(queue, options.DefaultWorkers);
        return queues;
    }

    private Task RegisterWithRetryAsync(NodeHeartbeat heartbeat, Dictionary<string, int> queues, CancellationToken ct) =>
        WithRetryAsync(() => heartbeat.RegisterAsync(queues, ct), ct);

    /// <summary>A start-up step that needs the database: retried with backoff until it succeeds or the node stops.</summary>
    private async Task WithRetryAsync(Func<Task> step, CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        while (true)
        {
            try
            {
                await step();
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException && !ct.IsCancellationRequested)
            {
                RegisterFailed(logger, e.Message);
                await Task.Delay(delay, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 10_000));
            }
        }
    }

    private void OnNodeLost()
    {
        // Our jobs are about to be rescued by another node: stop them now, and restart the
        // process (as a new node) rather than linger as a ghost.
        _claiming.Cancel();
        _hardStop.Cancel();
        Environment.ExitCode = 1;
        lifetime.StopApplication();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _claiming.Cancel();
        // Still waiting for the database: nothing runs yet, so there is nothing to drain.
        if (!_started) await _loops.CancelAsync();
        if (_run is not null) await _run.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ContinueWith(_ => { }, CancellationToken.None);
        if (!_started)
        {
            await _loops.CancelAsync();
            return;
        }
        StopClaiming(logger, Running());
        // A claim in flight finishes and hands its jobs to workers before the loop ends; only
        // then is the set of running jobs complete.
        await Task.WhenAll(_producerLoops);
        var drained = Task.WhenAll(_producers.Values.Select(p => p.DrainAsync()));
        if (await Task.WhenAny(drained, Task.Delay(options.ShutdownTimeout, CancellationToken.None)) != drained)
        {
            InterruptingJobs(logger, Running(), options.ShutdownTimeout.TotalSeconds);
            await _hardStop.CancelAsync();
            // Handlers that honour their token end at once; give the rest a moment before the
            // outcomes are written. Whatever still runs after that is rescued from this node's
            // (removed) row by another node.
            await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None));
        }
        _completer?.Complete();
        if (_completerLoop is not null) await Task.WhenAny(_completerLoop, Task.Delay(TimeSpan.FromSeconds(10), CancellationToken.None));

        using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await services.GetRequiredService<LeaderElector>().ResignAsync(cleanup.Token);
            await services.GetRequiredService<NodeHeartbeat>().UnregisterAsync(cleanup.Token);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            CleanupFailed(logger, e.Message);
        }
        await _loops.CancelAsync();
        await _hardStop.CancelAsync();
        await Task.WhenAny(Task.WhenAll(_background), Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None));
        EngineStopped(logger, node.Name);
    }

    private int Running() => _producers.Values.Sum(p => p.Busy);

    [LoggerMessage(EventId = 5801, Level = LogLevel.Information, Message = "Engine started on node {Node}: queues {Queues}; kinds {Kinds}; notify {UseNotify}")]
    private static partial void EngineStarted(ILogger logger, string node, string queues, string kinds, bool useNotify);

    [LoggerMessage(EventId = 5802, Level = LogLevel.Information, Message = "Stopping: no new jobs are claimed; waiting for {Running} running jobs")]
    private static partial void StopClaiming(ILogger logger, int running);

    [LoggerMessage(EventId = 5803, Level = LogLevel.Warning, Message = "{Running} jobs still running after {Seconds} s: cancelling them and handing them back")]
    private static partial void InterruptingJobs(ILogger logger, int running, double seconds);

    [LoggerMessage(EventId = 5804, Level = LogLevel.Information, Message = "Engine stopped; node {Node} removed")]
    private static partial void EngineStopped(ILogger logger, string node);

    [LoggerMessage(EventId = 5807, Level = LogLevel.Critical, Message = "The engine could not start; stopping the process")]
    private static partial void StartFailed(ILogger logger, Exception error);

    [LoggerMessage(EventId = 5805, Level = LogLevel.Warning, Message = "A start-up step (node registration, recurring sync) failed: {Error}; retrying")]
    private static partial void RegisterFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 5806, Level = LogLevel.Warning, Message = "Could not resign or remove the node row while stopping: {Error}; it expires by itself")]
    private static partial void CleanupFailed(ILogger logger, string error);
}
