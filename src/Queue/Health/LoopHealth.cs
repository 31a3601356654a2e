using System.Collections.Concurrent;

namespace Jobsd.Queue.Health;

/// <summary>
/// Every background loop reports each completed pass here. A loop that has not completed a
/// pass for <see cref="StaleAfterIntervals"/> of its intervals is wedged: liveness fails
/// (naming it), the systemd watchdog stops being fed, and systemd restarts the process
/// instead of letting it silently do nothing.
/// </summary>
public sealed class LoopHealth(TimeProvider clock)
{
    /// <summary>Several intervals, so one slow pass (a long GC, a slow query) is not a restart.</summary>
    public const int StaleAfterIntervals = 5;

    private readonly ConcurrentDictionary<string, Loop> _loops = new();

    private sealed class Loop(TimeSpan interval, DateTimeOffset since)
    {
        public TimeSpan Interval { get; } = interval;
        public DateTimeOffset LastPass = since;
        public string? LastError;
    }

    /// <summary>Starts watching a loop; the clock starts now, so a loop that never passes goes stale too.</summary>
    public void Register(string name, TimeSpan interval) =>
        _loops[name] = new Loop(interval, clock.GetUtcNow());

    /// <summary>Stops watching a loop that ended on purpose (shutdown, lost leadership).</summary>
    public void Unregister(string name) => _loops.TryRemove(name, out _);

    public void Passed(string name)
    {
        if (_loops.TryGetValue(name, out var loop))
        {
            loop.LastPass = clock.GetUtcNow();
            loop.LastError = null;
        }
    }

    public void Failed(string name, string error)
    {
        if (_loops.TryGetValue(name, out var loop)) loop.LastError = error;
    }

    /// <summary>Loops without a pass for too long, with how long and their last error.</summary>
    public IReadOnlyList<string> StaleLoops()
    {
        var now = clock.GetUtcNow();
        var stale = new List<string>();
        foreach (var (name, loop) in _loops)
        {
            var age = now - loop.LastPass;
            if (age > loop.Interval * StaleAfterIntervals)
            {
                stale.Add($"{name}: no pass for {age.TotalSeconds:0}s" + (loop.LastError is null ? "" : $" (last error: {loop.LastError})"));
            }
        }
        stale.Sort(StringComparer.Ordinal);
        return stale;
    }

    public IReadOnlyCollection<string> Names => _loops.Keys.Order(StringComparer.Ordinal).ToList();
}
