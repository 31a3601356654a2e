using Jobsd.TestSupport;

namespace Jobsd.Queue.Tests;

public sealed class QueueControlTests : DatabaseTest
{
    [Fact]
    public async Task A_paused_queue_is_claimed_by_no_node_until_it_is_resumed()
    {
        await using var engine = await EngineHost.StartAsync(Db);
        await engine.Client.PauseQueueAsync("default");
        var (id, _) = await engine.Client.EnqueueAsync(new TestArgs("paused"));
        // A job enqueued in the same queue afterwards and run through another queue proves the
        // node is polling; the paused one must still be waiting.
        var (other, _) = await engine.Client.EnqueueAsync(new TestArgs("elsewhere"), new EnqueueOptions { Queue = "other" });
        await using (var second = await EngineHost.StartAsync(Db, o => o.Queues = new() { ["other"] = new QueueSettings() }))
        {
            await Db.WaitForStateAsync(other, "succeeded");
        }
        Assert.Equal("enqueued", (await Db.JobAsync(id)).State);

        await engine.Client.ResumeQueueAsync("default");
        await Db.WaitForStateAsync(id, "succeeded");
    }
}
