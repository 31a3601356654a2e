using Xunit;

namespace Jobsd.TestSupport;

/// <summary>A test class whose every test gets a fresh, migrated database of its own.</summary>
public abstract class DatabaseTest : IAsyncLifetime
{
    protected TestDatabase Db { get; private set; } = null!;

    public async Task InitializeAsync() => Db = await TestPostgres.CreateDatabaseAsync();

    public async Task DisposeAsync() => await Db.DisposeAsync();
}
