using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Jobsd.Queue;

/// <summary>
/// The engine's instruments on meter <c>Jobsd</c>: enqueued, completed by outcome, duration and
/// wait (scheduled_at → started_at) histograms, queue depth per queue and state, busy workers.
/// Enqueues are counted where this process makes them; jobs other systems insert with SQL show
/// up in the queue depth instead.
/// </summary>
public sealed class JobsdMetrics : IDisposable
{
    public const string MeterName = "Jobsd";
    private readonly Meter _meter = new(MeterName, typeof(JobsdMetrics).Assembly.GetName().Version?.ToString(3));
    private readonly Counter<long> _enqueued;
    private readonly Counter<long> _completed;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _wait;
    private readonly ConcurrentDictionary<(string Queue, string State), long> _depth = new();
    private Func<IEnumerable<(string Queue, int Busy, int Workers)>> _workers = () => [];

    public JobsdMetrics()
    {
        _enqueued = _meter.CreateCounter<long>("jobsd.jobs.enqueued", "{job}", "Jobs enqueued by this process");
        _completed = _meter.CreateCounter<long>("jobsd.jobs.completed", "{job}", "Attempts finished, by outcome");
        _duration = _meter.CreateHistogram<double>("jobsd.job.duration", "s", "How long attempts ran");
        _wait = _meter.CreateHistogram<double>("jobsd.job.wait", "s", "From the time a job was due to the time it started");
        _meter.CreateObservableGauge("jobsd.queue.depth", () => _depth.Select(d =>
            new Measurement<long>(d.Value, new KeyValuePair<string, object?>("queue", d.Key.Queue), new KeyValuePair<string, object?>("state", d.Key.State))),
            "{job}", "Jobs waiting or running, per queue and state (sampled)");
        _meter.CreateObservableGauge("jobsd.workers.busy", () => _workers().Select(w =>
            new Measurement<int>(w.Busy, new KeyValuePair<string, object?>("queue", w.Queue))), "{worker}", "Workers running a job on this node");
        _meter.CreateObservableGauge("jobsd.workers.total", () => _workers().Select(w =>
            new Measurement<int>(w.Workers, new KeyValuePair<string, object?>("queue", w.Queue))), "{worker}", "Workers on this node");
    }

    public void Enqueued(string kind, long count = 1) =>
        _enqueued.Add(count, new KeyValuePair<string, object?>("kind", kind));

    public void Finished(JobOutcome outcome, TimeSpan duration)
    {
        var tags = new TagList { { "queue", outcome.Job.Queue }, { "kind", outcome.Job.Kind }, { "outcome", outcome.Kind.ToString().ToLowerInvariant() } };
        _completed.Add(1, tags);
        _duration.Record(duration.TotalSeconds, tags);
    }

    public void Started(ClaimedJob job) =>
        _wait.Record(Math.Max(0, (job.StartedAt - job.ScheduledAt).TotalSeconds),
            new KeyValuePair<string, object?>("queue", job.Queue), new KeyValuePair<string, object?>("kind", job.Kind));

    public void ObserveWorkers(Func<IEnumerable<(string Queue, int Busy, int Workers)>> workers) => _workers = workers;

    /// <summary>Replaces the sampled depth (states that vanished read as 0).</summary>
    public void SetDepth(IEnumerable<(string Queue, string State, long Count)> depth)
    {
        var seen = new HashSet<(string, string)>();
        foreach (var (queue, state, count) in depth)
        {
            _depth[(queue, state)] = count;
            seen.Add((queue, state));
        }
        foreach (var key in _depth.Keys.Where(k => !seen.Contains(k)).ToList()) _depth[key] = 0;
    }

    public void Dispose() => _meter.Dispose();
}
