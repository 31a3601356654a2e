using System.Diagnostics;
using Jobsd.Data.Migrations;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Jobsd.TestSupport;

/// <summary>
/// The throwaway PostgreSQL cluster of the test run. <c>scripts/test</c> starts it and
/// exports its coordinates; a bare <c>dotnet test</c> starts it through <c>scripts/pg</c>.
/// Every test gets its own database, cloned from a template migrated once.
/// </summary>
public static class TestPostgres
{
    public const string Password = "jobsd";
    private static readonly SemaphoreSlim TemplateGate = new(1, 1);
    private static string? _template;

    public static string Socket => Cluster.Value.Socket;
    public static int Port => Cluster.Value.Port;
    public static string BinDir => Cluster.Value.Bin;
    public static string DataDir => Cluster.Value.Dir + "/data";

    private static readonly Lazy<(string Socket, int Port, string Bin, string Dir)> Cluster = new(Start);

    /// <summary>Superuser over the unix socket (trust auth), without pooling so databases can be dropped.</summary>
    public static string AdminConnectionString(string database = "postgres") =>
        new NpgsqlConnectionStringBuilder { Host = Socket, Port = Port, Username = "jobsd", Database = database, Pooling = false }.ConnectionString;

    /// <summary>Over TCP with a password, as a deployed node connects.</summary>
    public static string TcpConnectionString(string database, string password = Password) =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "jobsd", Password = password, Database = database }.ConnectionString;

    public static async Task<TestDatabase> CreateDatabaseAsync(bool migrated = true)
    {
        var name = "t_" + Guid.NewGuid().ToString("N")[..16];
        var template = migrated ? await EnsureTemplateAsync() : "template0";
        await using (var admin = new NpgsqlConnection(AdminConnectionString()))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"create database \"{name}\" template \"{template}\"", admin);
            await create.ExecuteNonQueryAsync();
        }
        return new TestDatabase(name);
    }

    internal static async Task DropDatabaseAsync(string name)
    {
        await using var admin = new NpgsqlConnection(AdminConnectionString());
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"drop database if exists \"{name}\" with (force)", admin);
        await drop.ExecuteNonQueryAsync();
    }

    private static async Task<string> EnsureTemplateAsync()
    {
        if (_template is not null) return _template;
        await TemplateGate.WaitAsync();
        try
        {
            if (_template is not null) return _template;
            var scripts = new EmbeddedScriptSource().Load();
            var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                System.Text.Encoding.UTF8.GetBytes(string.Join("\n", scripts.Select(s => s.Path + ":" + s.Hash)))))[..12];
            var name = "jobsd_tpl_" + hash;
            await using var admin = new NpgsqlConnection(AdminConnectionString());
            await admin.OpenAsync();
            // Test assemblies run in parallel processes: one of them builds the template.
            await using (var lockCmd = new NpgsqlCommand("select pg_advisory_lock(4242)", admin)) await lockCmd.ExecuteNonQueryAsync();
            await using (var exists = new NpgsqlCommand("select count(*) from pg_database where datname = @n and datistemplate", admin))
            {
                exists.Parameters.AddWithValue("n", name);
                if ((long)(await exists.ExecuteScalarAsync())! == 0)
                {
                    await using (var drop = new NpgsqlCommand($"drop database if exists \"{name}\" with (force)", admin)) await drop.ExecuteNonQueryAsync();
                    await using (var create = new NpgsqlCommand($"create database \"{name}\"", admin)) await create.ExecuteNonQueryAsync();
                    await using (var source = new NpgsqlDataSourceBuilder(AdminConnectionString(name)).Build())
                    {
                        await new MigrationRunner(source, new EmbeddedScriptSource(), NullLogger<MigrationRunner>.Instance).MigrateAsync(false, CancellationToken.None);
                    }
                    await using var mark = new NpgsqlCommand($"alter database \"{name}\" is_template true", admin);
                    await mark.ExecuteNonQueryAsync();
                }
            }
            await using (var unlock = new NpgsqlCommand("select pg_advisory_unlock(4242)", admin)) await unlock.ExecuteNonQueryAsync();
            return _template = name;
        }
        finally
        {
            TemplateGate.Release();
        }
    }

    private static (string, int, string, string) Start()
    {
        var port = Environment.GetEnvironmentVariable("JOBSD_TEST_PG_PORT");
        var socket = Environment.GetEnvironmentVariable("JOBSD_TEST_PG_SOCKET");
        var bin = Environment.GetEnvironmentVariable("JOBSD_TEST_PG_BIN");
        var dir = Environment.GetEnvironmentVariable("JOBSD_TEST_PG_DIR");
        if (port is not null && socket is not null && bin is not null && dir is not null) return (socket, int.Parse(port), bin, dir);

        dir = System.IO.Path.Combine(RepositoryRoot.Path, ".pg", "test");
        const int defaultPort = 54330;
        var psi = new ProcessStartInfo(System.IO.Path.Combine(RepositoryRoot.Path, "scripts", "pg"), "start")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["JOBSD_PG_DIR"] = dir;
        psi.Environment["JOBSD_PG_PORT"] = defaultPort.ToString();
        psi.Environment["JOBSD_PG_FAST"] = "1";
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException("scripts/pg start failed: " + stderr.Result);
        var binDir = Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d).Select(d => d + "/bin").First();
        return (System.IO.Path.Combine(dir, "socket"), defaultPort, binDir, dir);
    }
}
