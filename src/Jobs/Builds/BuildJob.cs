using System.Globalization;
using Jobsd.Queue;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Jobs.Builds;

/// <summary>Args of a build: which build_jobs row to build. Enqueued by other systems (SQL, API, client) on queue builds, unique per build job.</summary>
public sealed record BuildArgs(Guid BuildJobId) : IJobArgs
{
    public static string Kind => "build";
}

/// <summary>
/// Runs one build job, reading as its lifecycle: claim it in the system of record (state, team
/// limit) → prepare a clean workspace → optional checkout → run the command with its output
/// streamed into build_logs → record the end and roll up the workflow run with the job's
/// completion. A non-zero exit is a result, not an error; what the build could not do for
/// reasons outside itself (checkout, missing program, database) is retried by the engine.
/// </summary>
public sealed partial class BuildJob(
    BuildLedger ledger,
    NpgsqlDataSource dataSource,
    BuildSettings settings,
    TimeProvider clock,
    ILogger<BuildJob> logger) : IJob<BuildArgs>
{
    private enum StopCause { None, Timeout, ExternalCancel }

    public async Task ExecuteAsync(BuildArgs args, JobContext context, CancellationToken ct)
    {
        var start = await ledger.BeginAsync(args.BuildJobId, context, ImageTag, ct);
        switch (start.Plan)
        {
            case BuildPlan.Skip:
                Skipped(logger, args.BuildJobId, start.Why);
                context.SetResult(new { BuildJobId = args.BuildJobId, Skipped = start.Why });
                return;
            case BuildPlan.Wait:
                TeamAtLimit(logger, args.BuildJobId, start.Why);
                throw new JobSnoozeException(settings.TeamLimitDelay + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 1000)));
        }
        var build = start.Build!;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["BuildJobId"] = build.Id });
        var workspace = Path.Combine(settings.WorkspaceRoot(Environment.GetEnvironmentVariable), build.Id.ToString());
        var source = settings.Checkout ? Path.Combine(workspace, "src") : workspace;
        var fields = Fields(build, context, workspace, source);

        await using var log = new BuildLogWriter(dataSource, build.Id, settings, clock);
        using var timeout = new CancellationTokenSource(settings.Timeout, clock);
        using var external = new CancellationTokenSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token, external.Token);
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watcher = WatchStatusAsync(build.Id, context.Id, external, watch.Token);
        var started = clock.GetTimestamp();
        try
        {
            if (start.Restarted) await log.NoteAsync($"build restarted on {context.Node} (attempt {context.Attempt}): {start.Why}", CancellationToken.None);
            Started(logger, build.Id, context.Node, start.Restarted);
            var exitCode = await RunAsync(build, fields, workspace, source, context, log, external, stop.Token);
            var result = exitCode == 0
                ? new BuildResult(BuildEnd.Completed, 0, null, log.ArtifactUrl is { Length: > 0 } a ? a : ArtifactUrl(fields))
                : new BuildResult(BuildEnd.Failed, exitCode, FailureText($"exit code {exitCode}", log.StderrTail), null);
            await log.CompleteAsync(CancellationToken.None);
            await EndAsync(build, context, result, log, clock.GetElapsedTime(started), completeJob: true);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            await log.NoteAsync($"timed out after {settings.Timeout}; the build's processes were killed", CancellationToken.None);
            await log.CompleteAsync(CancellationToken.None);
            await EndAsync(build, context, new BuildResult(BuildEnd.Failed, null, FailureText($"timed out after {settings.Timeout}", log.StderrTail), null),
                log, clock.GetElapsedTime(started), completeJob: true);
        }
        catch (OperationCanceledException) when (external.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            await log.NoteAsync("build job was set to cancelled (or taken over) in the system of record; its processes were killed", CancellationToken.None);
            await log.CompleteAsync(CancellationToken.None);
            await EndAsync(build, context, new BuildResult(BuildEnd.Cancelled, null, "cancelled", null), log, clock.GetElapsedTime(started), completeJob: true);
        }
        catch (OperationCanceledException) when (context.CancelRequested)
        {
            await log.NoteAsync("cancelled by an operator; the build's processes were killed", CancellationToken.None);
            await log.CompleteAsync(CancellationToken.None);
            // The engine records the cancel (job deleted) once this rethrows.
            await EndAsync(build, context, new BuildResult(BuildEnd.Cancelled, null, "cancelled by an operator", null), log, clock.GetElapsedTime(started), completeJob: false);
            throw;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // This node is stopping: the job goes back to the queue and the build restarts, cleanly, on a node.
            await NoteQuietlyAsync(log, $"interrupted: {context.Node} is stopping; the build will restart");
            throw;
        }
        catch (BuildInputException e)
        {
            await NoteQuietlyAsync(log, e.Message);
            await EndAsync(build, context, new BuildResult(BuildEnd.Failed, null, e.Message, null), log, clock.GetElapsedTime(started), completeJob: false);
            throw new JobPermanentException($"build job {build.Id}: {e.Message}", e);
        }
        catch (Exception e) when (e is not JobPermanentException)
        {
            // Infrastructure: the engine retries; on the last attempt the build must not stay "running".
            await NoteQuietlyAsync(log, $"attempt {context.Attempt} of {context.MaxAttempts} could not run the build: {e.Message}");
            if (context.Attempt >= context.MaxAttempts)
            {
                await EndAsync(build, context, new BuildResult(BuildEnd.Failed, null, $"could not run the build after {context.Attempt} attempts: {e.Message}", null),
                    log, clock.GetElapsedTime(started), completeJob: false);
            }
            throw;
        }
        finally
        {
            await watch.CancelAsync();
            await watcher;
            if (!settings.KeepWorkspace) DeleteWorkspace(workspace);
        }
    }

    private async Task<int> RunAsync(BuildRow build, Dictionary<string, string> fields, string workspace, string source, JobContext context,
        BuildLogWriter log, CancellationTokenSource external, CancellationToken ct)
    {
        CheckPaths(build);
        var argv = settings.Command.Select(a => BuildTemplate.ExpandArgument(a, fields)).ToList();
        var environment = ChildEnvironment(fields, workspace);
        DeleteWorkspace(workspace);
        Directory.CreateDirectory(workspace);
        if (settings.Checkout) await CheckoutAsync(build, source, environment, log, ct);
        if (!await ledger.MarkRunningAsync(build.Id, context.Id, ct))
        {
            await external.CancelAsync();
            ct.ThrowIfCancellationRequested();
        }
        await log.NoteAsync($"running {string.Join(' ', argv.Select(Quote))}", ct);
        return await ChildProcess.RunAsync(argv, source, environment, log, settings, clock, ct);
    }

    private async Task CheckoutAsync(BuildRow build, string source, Dictionary<string, string> environment, BuildLogWriter log, CancellationToken ct)
    {
        List<string> clone = [settings.Git, "clone", "--quiet"];
        if (build.CommitSha is null) clone.AddRange(["--depth", "1", "--branch", build.Branch]);
        clone.AddRange(["--", build.RepoUrl, source]);
        await GitAsync(clone, Path.GetDirectoryName(source)!, environment, log, "clone", ct);
        if (build.CommitSha is { } sha)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(sha, "^[0-9a-fA-F]{4,64}$"))
            {
                throw new BuildInputException($"commit '{sha}' is not a commit hash (4 to 64 hex digits)");
            }
            await GitAsync([settings.Git, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", sha], source, environment, log, "checkout", ct);
        }
    }

    private async Task GitAsync(List<string> argv, string directory, Dictionary<string, string> environment, BuildLogWriter log, string step, CancellationToken ct)
    {
        await log.NoteAsync(string.Join(' ', argv.Select(Quote)), ct);
        var exit = await ChildProcess.RunAsync(argv, directory, environment, log, settings, clock, ct);
        if (exit != 0) throw new BuildInfrastructureException($"git {step} failed (exit code {exit}): {log.StderrTail.Split('\n')[^1]}");
    }

    /// <summary>Relative paths inside the checkout only: a build job cannot point the build at the host's files.</summary>
    private static void CheckPaths(BuildRow build)
    {
        foreach (var (name, path) in new[] { ("context_path", build.ContextPath), ("dockerfile_path", build.DockerfilePath) })
        {
            if (Path.IsPathRooted(path) || path.Split('/', '\\').Contains(".."))
            {
                throw new BuildInputException($"{name} '{path}' must be a relative path inside the checkout (no leading '/', no '..')");
            }
        }
        if (build.ImageTag is { } tag && tag.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new BuildInputException($"image_tag '{tag}' must not contain whitespace or control characters");
        }
    }

    private Dictionary<string, string> ChildEnvironment(Dictionary<string, string> fields, string workspace)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in settings.Environment)
        {
            if (!BuildSettings.IsSecret(name) && Environment.GetEnvironmentVariable(name) is { } value) env[name] = value;
        }
        env.TryAdd("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        env["HOME"] = workspace;
        env["GIT_TERMINAL_PROMPT"] = "0";
        foreach (var (name, value) in settings.Variables) env[name] = BuildTemplate.Expand(value, n => fields.GetValueOrDefault(n));
        foreach (var key in new[] { "build_job_id", "workflow_run_id", "environment_id", "project_id", "team_id", "name", "architecture", "platform",
                     "image_tag", "branch", "commit_sha", "pr_number", "workspace", "source", "attempt" })
        {
            env["JOBSD_" + key.ToUpperInvariant()] = fields[key];
        }
        return env;
    }

    /// <summary>Every placeholder's value for this build and attempt.</summary>
    private static Dictionary<string, string> Fields(BuildRow build, JobContext context, string workspace, string source)
    {
        var fields = RowFields(build);
        fields["workspace"] = workspace;
        fields["source"] = source;
        fields["node"] = context.Node;
        fields["attempt"] = context.Attempt.ToString(CultureInfo.InvariantCulture);
        return fields;
    }

    /// <summary>The placeholders the build job's own row gives (all an image tag may use, since it is fixed before a workspace exists).</summary>
    private static Dictionary<string, string> RowFields(BuildRow build) => new(StringComparer.Ordinal)
    {
        ["build_job_id"] = build.Id.ToString(),
        ["workflow_run_id"] = build.WorkflowRunId.ToString(),
        ["environment_id"] = build.EnvironmentId.ToString(),
        ["project_id"] = build.ProjectId.ToString(),
        ["team_id"] = build.TeamId.ToString(),
        ["name"] = build.Name,
        ["architecture"] = build.Architecture,
        ["platform"] = BuildLedger.Platform(build.Architecture),
        ["context_path"] = build.ContextPath,
        ["dockerfile_path"] = build.DockerfilePath,
        ["image_tag"] = build.ImageTag ?? "",
        ["project_name"] = build.ProjectName,
        ["repo_url"] = build.RepoUrl,
        ["branch"] = build.Branch,
        ["commit_sha"] = build.CommitSha ?? "",
        ["commit_hash"] = build.CommitSha ?? "",
        ["pr_number"] = BuildLedger.Text(build.PrNumber),
        ["subdomain_hash"] = build.SubdomainHash,
    };

    private string ImageTag(BuildRow build)
    {
        var fields = RowFields(build);
        return BuildTemplate.Expand(settings.ImageTag, name => fields.GetValueOrDefault(name) ?? "");
    }

    private string? ArtifactUrl(Dictionary<string, string> fields) =>
        settings.ArtifactUrl is { Length: > 0 } template ? BuildTemplate.Expand(template, n => fields.GetValueOrDefault(n)) : null;

    private async Task EndAsync(BuildRow build, JobContext context, BuildResult result, BuildLogWriter log, TimeSpan took, bool completeJob)
    {
        context.SetResult(new
        {
            BuildJobId = build.Id, Status = result.End.ToString().ToLowerInvariant(), result.ExitCode, result.ArtifactUrl,
            Error = result.Error?.Split('\n')[0], LogLines = log.LinesWritten, DurationSeconds = Math.Round(took.TotalSeconds, 3),
        });
        var status = await ledger.FinishAsync(build.Id, context, result, completeJob, CancellationToken.None);
        Ended(logger, build.Id, status, result.ExitCode, took.TotalSeconds);
    }

    /// <summary>Polls the build's row: another system setting it to cancelled (or a takeover) stops the build within a poll interval.</summary>
    private async Task WatchStatusAsync(Guid buildJobId, long jobId, CancellationTokenSource external, CancellationToken ct)
    {
        try
        {
            using var timer = new PeriodicTimer(settings.StatusPollInterval, clock);
            while (await timer.WaitForNextTickAsync(ct))
            {
                try
                {
                    if (!await ledger.StillOursAsync(buildJobId, jobId, ct))
                    {
                        await external.CancelAsync();
                        return;
                    }
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException)
                {
                    // A database blip: the log writer's own retries decide whether the build goes on.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task NoteQuietlyAsync(BuildLogWriter log, string text)
    {
        try
        {
            await log.NoteAsync(text, CancellationToken.None);
            using var cap = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await log.CompleteAsync(cap.Token);
        }
        catch (Exception)
        {
            // The log may be what failed; the build's row still records the end.
        }
    }

    private static string FailureText(string what, string stderrTail) =>
        stderrTail.Length == 0 ? what : $"{what}; last stderr lines:\n{stderrTail}";

    private static string Quote(string arg) => arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,@%+".Contains(c)) ? arg : "'" + arg.Replace("'", "'\\''") + "'";

    private void DeleteWorkspace(string workspace)
    {
        try
        {
            if (Directory.Exists(workspace)) Directory.Delete(workspace, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            WorkspaceNotRemoved(logger, workspace, e.Message);
        }
    }

    [LoggerMessage(EventId = 7301, Level = LogLevel.Information, Message = "Build {BuildJobId} started on {Node} (restart: {Restarted})")]
    private static partial void Started(ILogger logger, Guid buildJobId, string node, bool restarted);

    [LoggerMessage(EventId = 7302, Level = LogLevel.Information, Message = "Build {BuildJobId} ended {Status} (exit code {ExitCode}) after {Seconds:0.0} s")]
    private static partial void Ended(ILogger logger, Guid buildJobId, string status, int? exitCode, double seconds);

    [LoggerMessage(EventId = 7303, Level = LogLevel.Information, Message = "Build {BuildJobId} not run: {Why}")]
    private static partial void Skipped(ILogger logger, Guid buildJobId, string why);

    [LoggerMessage(EventId = 7304, Level = LogLevel.Debug, Message = "Build {BuildJobId} waits for a slot: {Why}")]
    private static partial void TeamAtLimit(ILogger logger, Guid buildJobId, string why);

    [LoggerMessage(EventId = 7305, Level = LogLevel.Warning, Message = "Workspace {Workspace} could not be removed: {Error}")]
    private static partial void WorkspaceNotRemoved(ILogger logger, string workspace, string error);
}
