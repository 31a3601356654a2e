using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Jobsd.TestSupport;

/// <summary>
/// A PostgreSQL cluster of one test's own, for tests that restart or stop the server (which
/// would disturb every other test on the shared cluster). Trust auth on loopback; removed on dispose.
/// </summary>
public sealed class PrivateCluster : IAsyncDisposable
{
    private readonly string _dir;

    private PrivateCluster(string dir, int port)
    {
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=jobsd;Database={database};Timeout=5";

    public static async Task<PrivateCluster> StartAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "jobsd-pg-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        if (Environment.UserName == "root") await RunAsync("chown", "postgres:", dir);
        var port = FreePort();
        var cluster = new PrivateCluster(dir, port);
        await cluster.PgAsync("initdb", "-D", dir + "/data", "-U", "jobsd", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8");
        await File.AppendAllTextAsync(dir + "/data/postgresql.conf",
            $"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{dir}'\nfsync = off\nmax_connections = 200\n");
        await cluster.StartServerAsync();
        return cluster;
    }

    public Task StartServerAsync() => PgAsync("pg_ctl", "-D", _dir + "/data", "-l", _dir + "/log", "-w", "start");

    public Task StopServerAsync() => PgAsync("pg_ctl", "-D", _dir + "/data", "-m", "fast", "-w", "stop");

    public Task RestartServerAsync() => PgAsync("pg_ctl", "-D", _dir + "/data", "-l", _dir + "/log", "-m", "fast", "-w", "restart");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await PgAsync("pg_ctl", "-D", _dir + "/data", "-m", "immediate", "-w", "stop");
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }
        Directory.Delete(_dir, recursive: true);
    }

    private Task PgAsync(string tool, params string[] args)
    {
        var path = Path.Combine(TestPostgres.BinDir, tool);
        return Environment.UserName == "root"
            ? RunAsync("runuser", ["-u", "postgres", "--", path, .. args])
            : RunAsync(path, args);
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        // pg_ctl start leaves the server holding stdout; do not wait for its end.
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {await stderr}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
