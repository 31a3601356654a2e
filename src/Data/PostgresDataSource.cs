using Npgsql;

namespace Jobsd.Data;

/// <summary>
/// Builds the one <see cref="NpgsqlDataSource"/> a process uses. The password may come
/// separately (a systemd credential), so the connection string in a config file needs none.
/// </summary>
public static class PostgresDataSource
{
    public static NpgsqlDataSource Create(string connectionString, string? password, string applicationName, Action<NpgsqlConnectionStringBuilder>? tune = null)
    {
        var builder = Describe(connectionString, password);
        if (string.IsNullOrEmpty(builder.ApplicationName)) builder.ApplicationName = applicationName;
        // Npgsql resets a pooled connection with DISCARD ALL, which also throws away the cached
        // plans of queue.enqueue and the NOTIFY trigger: every call then re-plans them (measured:
        // enqueue throughput halves). jobsd leaves no session state behind (no plain SET, no temp
        // tables), so the reset buys nothing. Handlers must use SET LOCAL, not SET.
        if (!connectionString.Contains("No Reset On Close", StringComparison.OrdinalIgnoreCase)) builder.NoResetOnClose = true;
        // The engine sends the same few statements thousands of times a second; prepared once
        // per connection they skip parsing and planning. A connection string that sets
        // Max Auto Prepare (e.g. 0 behind an old PgBouncer) wins.
        if (!connectionString.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase)) builder.MaxAutoPrepare = 32;
        tune?.Invoke(builder);
        return new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
    }

    /// <summary>Parses a connection string and applies a password override; throws <see cref="ArgumentException"/> naming the bad keyword.</summary>
    public static NpgsqlConnectionStringBuilder Describe(string connectionString, string? password)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!string.IsNullOrEmpty(password)) builder.Password = password;
        return builder;
    }

    /// <summary>Where a connection string points, without any secret: <c>user@host:port/database</c>.</summary>
    public static string SafeDescription(string connectionString)
    {
        try
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            return $"{b.Username ?? "(default user)"}@{b.Host ?? "(default host)"}:{b.Port}/{b.Database ?? "(default database)"}";
        }
        catch (ArgumentException)
        {
            return "(unparsable connection string)";
        }
    }
}
