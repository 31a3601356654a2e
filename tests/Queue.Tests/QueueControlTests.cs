using Jobsd.TestSupport;

namespace Jobsd.Queue.Tests;

public sealed class QueueControlTests : IAsyncLifetime
{
    private TestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await TestPostgres.CreateDatabaseAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task A_paused_queue_is_claimed_by_no_node_until_it_is_resumed()
    {
        await using var engine = await EngineHost.StartAsync(_db);
        await engine.Client.PauseQueueAsync("default");
        var (id, _) = await engine.Client.EnqueueAsync(new TestArgs("paused"));
        // A job enqueued in the same queue afterwards and run through another queue proves the
        // node is polling; the paused one must still be waiting.
        var (other, _) = await engine.Client.EnqueueAsync(new TestArgs("elsewhere"), new EnqueueOptions { Queue = "other" });
        await using (var second = await EngineHost.StartAsync(_db, o => o.Queues = new() { ["other"] = new QueueSettings() }))
        {
            await _db.WaitForStateAsync(other, "succeeded");
        }
        await Task.Yield();
        Assert.Equal("enqueued", (await _db.JobAsync(id)).State);

        await engine.Client.ResumeQueueAsync("default");
        await _db.WaitForStateAsync(id, "succeeded");
    }
}
