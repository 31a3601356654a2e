using System.Collections.Concurrent;
using System.Diagnostics;

namespace Jobsd.Daemon.Tests;

/// <summary>A real <c>jobsd</c> process, as systemd would run it: its own environment, its output captured.</summary>
internal sealed class JobsdProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();

    private JobsdProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _stdout.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _stderr.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;
    public string Stdout => string.Join("\n", _stdout);
    public string Stderr => string.Join("\n", _stderr);

    /// <param name="stdin">Written to the process's standard input, which is then closed; null: no input.</param>
    public static JobsdProcess Start(IEnumerable<string> args, IDictionary<string, string?>? environment = null, string? stdin = null)
    {
        // Through a tiny exec wrapper that restores SIGINT's default disposition: a test runner
        // started in the background (CI, `cmd &`) has SIGINT ignored, that is inherited, and the
        // .NET runtime rightly keeps ignoring a signal its parent ignored (as nohup wants).
        var psi = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])");
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "jobsd.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        // A clean slate: nothing of the test runner's own systemd or JOBSD_ environment leaks in.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("JOBSD_", StringComparison.Ordinal) || k is "NOTIFY_SOCKET" or "WATCHDOG_USEC" or "WATCHDOG_PID" or "JOURNAL_STREAM" or "CREDENTIALS_DIRECTORY").ToList())
        {
            psi.Environment.Remove(key);
        }
        if (environment is not null)
        {
            foreach (var (k, v) in environment) psi.Environment[k] = v;
        }
        var process = Process.Start(psi)!;
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        return new JobsdProcess(process);
    }

    /// <summary>Runs a short verb to completion.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IEnumerable<string> args, IDictionary<string, string?>? environment = null, string? stdin = null)
    {
        await using var p = Start(args, environment, stdin);
        var code = await p.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (code, p.Stdout, p.Stderr);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // Say what the process was doing, so a hang in CI can be diagnosed from the log.
            throw new TimeoutException($"jobsd did not exit within {timeout}.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }
        _process.WaitForExit(); // drains the redirected streams
        return _process.ExitCode;
    }

    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString()]);
        kill.WaitForExit();
    }

    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Stdout.Contains(text, StringComparison.Ordinal) && !Stderr.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{text}' never appeared.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            }
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
