using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Jobsd.Jobs.Builds;

/// <summary>
/// Runs one program as argv (never a shell) in a session of its own, streaming both outputs
/// line by line into the build log. Stopping it kills the whole tree: the session's process
/// group (what a shell's background children stay in), any process still in the session, and
/// the descendants .NET can see — so a grandchild <c>sleep</c> does not outlive its build.
/// </summary>
public static class ChildProcess
{
    private const string Setsid = "/usr/bin/setsid";
    private const int SigKill = 9;

    /// <summary>Exit code, or throws <see cref="OperationCanceledException"/> after killing the tree.</summary>
    /// <exception cref="BuildInfrastructureException">The program could not be started (not found, not executable).</exception>
    public static async Task<int> RunAsync(IReadOnlyList<string> argv, string workingDirectory, IReadOnlyDictionary<string, string> environment,
        BuildLogWriter log, BuildSettings settings, TimeProvider clock, CancellationToken ct)
    {
        // setsid(1) execs in place (a child of .NET is never a group leader), so the pid we get
        // is the session and process group id.
        var useSetsid = File.Exists(Setsid);
        var psi = new ProcessStartInfo(useSetsid ? Setsid : argv[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var arg in useSetsid ? argv : argv.Skip(1)) psi.ArgumentList.Add(arg);
        psi.Environment.Clear();
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        if (useSetsid && !IsRunnable(argv[0], environment.GetValueOrDefault("PATH")))
        {
            throw new BuildInfrastructureException($"{argv[0]}: command not found (PATH={environment.GetValueOrDefault("PATH")})");
        }

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new BuildInfrastructureException($"could not start {argv[0]}");
        }
        catch (Win32Exception e)
        {
            throw new BuildInfrastructureException($"could not start {argv[0]}: {e.Message}");
        }
        using (process)
        {
            process.StandardInput.Close();
            var stdout = new OutputLineReader(process.StandardOutput.BaseStream, LogStream.Stdout, settings.MaxLineLength, clock)
                .ReadAsync(line => log.WriteAsync(line, CancellationToken.None), CancellationToken.None);
            var stderr = new OutputLineReader(process.StandardError.BaseStream, LogStream.Stderr, settings.MaxLineLength, clock)
                .ReadAsync(line => log.WriteAsync(line, CancellationToken.None), CancellationToken.None);
            try
            {
                // The log writer failing (database gone) ends the build too.
                var exited = process.WaitForExitAsync(ct);
                var first = await Task.WhenAny(exited, log.Failure);
                if (first == log.Failure && !exited.IsCompleted)
                {
                    KillTree(process);
                    await log.Failure;
                    throw new BuildInfrastructureException("the build log writer stopped");
                }
                await exited;
            }
            catch (OperationCanceledException)
            {
                KillTree(process);
                await process.WaitForExitAsync(CancellationToken.None);
                await DrainAsync(stdout, stderr);
                throw;
            }
            // A background child may hold the pipes open after the main process exited; the
            // build is over, so it goes too.
            KillGroup(process.Id);
            await DrainAsync(stdout, stderr);
            return process.ExitCode;
        }
    }

    private static async Task DrainAsync(Task stdout, Task stderr)
    {
        try
        {
            await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            // A process outside the session kept the pipe open; its output is not the build's.
        }
    }

    private static bool IsRunnable(string program, string? path)
    {
        if (program.Contains('/')) return File.Exists(program);
        foreach (var dir in (path ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, program))) return true;
        }
        return false;
    }

    public static void KillTree(Process process)
    {
        var pid = process.Id;
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited; its group and session may still hold children.
        }
        KillGroup(pid);
    }

    /// <summary>Kills the process group and every process left in the session led by <paramref name="sessionId"/>.</summary>
    public static void KillGroup(int sessionId)
    {
        if (!OperatingSystem.IsLinux()) return;
        _ = Kill(-sessionId, SigKill);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                // /proc/PID/stat: "pid (comm) state ppid pgrp session …"; comm may hold spaces and ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[3]) == sessionId) _ = Kill(pid, SigKill);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // Gone meanwhile, or not ours to read.
            }
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

/// <summary>The build could not run for a reason outside the build itself (checkout, missing program, database): retried by the engine.</summary>
public sealed class BuildInfrastructureException(string message, Exception? inner = null) : Exception(message, inner);
