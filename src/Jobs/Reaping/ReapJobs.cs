using System.Diagnostics;
using Jobsd.Queue;
using Microsoft.Extensions.Logging;

namespace Jobsd.Jobs.Reaping;

public sealed record ReapArgs : IJobArgs
{
    public static string Kind => "reap";
}

/// <summary>One reaper run (recurring, every minute by default, overlap skip).</summary>
public sealed class ReapJob(Reaper reaper, TimeProvider clock) : IJob<ReapArgs>
{
    public async Task ExecuteAsync(ReapArgs args, JobContext context, CancellationToken ct)
    {
        var counts = await reaper.RunAsync(clock.GetUtcNow(), dryRun: false, ct);
        context.SetResult(counts);
    }
}

public sealed record EnvironmentTerminateArgs(Guid EnvironmentId, string? VmId, string SubdomainHash) : IJobArgs
{
    public static string Kind => "environment.terminate";
}

/// <summary>
/// Tears down a reaped environment by running <see cref="ReaperSettings.TerminateCommand"/> as
/// argv (no shell: placeholders are substituted inside single arguments, so a value can never
/// become another argument or a shell construct), with its own timeout; a non-zero exit fails
/// the attempt with the end of its output (and is retried). Without a command it records that
/// there was nothing to run.
/// </summary>
public sealed partial class EnvironmentTerminateJob(ReaperSettings settings, ILogger<EnvironmentTerminateJob> logger) : IJob<EnvironmentTerminateArgs>
{
    public async Task ExecuteAsync(EnvironmentTerminateArgs args, JobContext context, CancellationToken ct)
    {
        if (settings.TerminateCommand.Length == 0)
        {
            NothingToRun(logger, args.EnvironmentId);
            context.SetResult(new { Ran = false, Why = "no Reaper:TerminateCommand is configured" });
            return;
        }
        var psi = new ProcessStartInfo(Substitute(settings.TerminateCommand[0], args))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in settings.TerminateCommand.Skip(1)) psi.ArgumentList.Add(Substitute(a, args));
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(settings.TerminateTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (ct.IsCancellationRequested) throw;
            throw new TimeoutException($"terminate command for environment {args.EnvironmentId} timed out after {settings.TerminateTimeout}");
        }
        var output = (await stdout + await stderr).Trim();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"terminate command for environment {args.EnvironmentId} exited with {process.ExitCode}: {Tail(output)}");
        }
        Terminated(logger, args.EnvironmentId, Tail(output));
        context.SetResult(new { Ran = true, ExitCode = 0, Output = Tail(output) });
    }

    private static string Substitute(string template, EnvironmentTerminateArgs args) => template
        .Replace("{environment_id}", args.EnvironmentId.ToString(), StringComparison.Ordinal)
        .Replace("{vm_id}", args.VmId ?? "", StringComparison.Ordinal)
        .Replace("{subdomain_hash}", args.SubdomainHash, StringComparison.Ordinal);

    private static string Tail(string output) => output.Length <= 2000 ? output : "…" + output[^2000..];

    [LoggerMessage(EventId = 7203, Level = LogLevel.Information, Message = "Environment {EnvironmentId} reaped; no Reaper:TerminateCommand is configured, so nothing was run")]
    private static partial void NothingToRun(ILogger logger, Guid environmentId);

    [LoggerMessage(EventId = 7204, Level = LogLevel.Information, Message = "Environment {EnvironmentId} terminated: {Output}")]
    private static partial void Terminated(ILogger logger, Guid environmentId, string output);
}
