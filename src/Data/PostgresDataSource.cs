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
