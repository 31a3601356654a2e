using Jobsd.Queue.Health;
using Jobsd.TestSupport;

namespace Jobsd.Queue.Tests;

public sealed class LoopHealthTests
{
    [Fact]
    public void A_loop_without_a_pass_for_several_intervals_is_named_as_stale()
    {
        var clock = new FakeClock();
        var health = new LoopHealth(clock);
        health.Register("producer:default", TimeSpan.FromSeconds(1));
        health.Register("heartbeat", TimeSpan.FromSeconds(5));

        clock.Advance(TimeSpan.FromSeconds(4));
        health.Passed("producer:default");
        Assert.Empty(health.StaleLoops());

        clock.Advance(TimeSpan.FromSeconds(6));
        health.Failed("producer:default", "connection refused");
        var stale = Assert.Single(health.StaleLoops());
        Assert.Equal("producer:default: no pass for 6s (last error: connection refused)", stale);

        clock.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(2, health.StaleLoops().Count);
        health.Unregister("heartbeat");
        health.Passed("producer:default");
        Assert.Empty(health.StaleLoops());
    }
}
