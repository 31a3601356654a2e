using Npgsql;

namespace Jobsd.TestSupport;

/// <summary>A database of its own for one test; dropped (with force) on dispose.</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    internal TestDatabase(string name)
    {
        Name = name;
        DataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    public string Name { get; }

    /// <summary>Over TCP with the password, as jobsd itself connects.</summary>
    public string ConnectionString => TestPostgres.TcpConnectionString(Name);

    /// <summary>For the test's own assertions and fixtures.</summary>
    public NpgsqlDataSource DataSource { get; }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        await TestPostgres.DropDatabaseAsync(Name);
    }
}
