namespace Jobsd.TestSupport;

/// <summary>
/// A clock tests move by hand. Only wall-clock reads are faked; timers stay real (components
/// under test poll the clock on their own short intervals).
/// </summary>
public sealed class FakeClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;
    private readonly Lock _gate = new();

    public FakeClock() : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)) { }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate) return _now;
    }

    public void Advance(TimeSpan by)
    {
        lock (_gate) _now += by;
    }

    public void Set(DateTimeOffset now)
    {
        lock (_gate) _now = now;
    }
}
