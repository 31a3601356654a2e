namespace Jobsd.Jobs.Builds;

/// <summary>The build runner (section <c>Builds</c>): what it runs for a build job, where, and how much of its output it keeps.</summary>
public sealed class BuildSettings
{
    public const string Section = "Builds";

    /// <summary>
    /// The build command as argv (no shell), placeholders like <c>{image_tag}</c> replaced per build
    /// (<see cref="BuildTemplate.Placeholders"/>). Runs in the checkout (or the workspace without one).
    /// </summary>
    public string[] Command { get; set; } =
        ["docker", "buildx", "build", "--platform", "{platform}", "-f", "{dockerfile_path}", "-t", "{image_tag}", "{context_path}"];

    /// <summary>Clone the project's repo_url at the environment's commit (or branch) into the workspace first. Default: true.</summary>
    public bool Checkout { get; set; } = true;

    /// <summary>The git program used for the checkout. Default: git.</summary>
    public string Git { get; set; } = "git";

    /// <summary>Per-build workspaces are made under this folder. Default: $STATE_DIRECTORY/builds under systemd, else the temp folder's jobsd-builds.</summary>
    public string? Workspace { get; set; }

    /// <summary>Leave a build's workspace behind when it ends (for debugging). Default: false.</summary>
    public bool KeepWorkspace { get; set; }

    /// <summary>Variables passed from jobsd's own environment to the build, by name; nothing else is. Default: PATH, locale, TZ, proxies, Docker client settings.</summary>
    public string[] Environment { get; set; } =
        ["PATH", "LANG", "LC_ALL", "TZ", "DOCKER_HOST", "DOCKER_CONFIG", "BUILDX_CONFIG", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"];

    /// <summary>Extra variables for every build; values may use placeholders. Default: none.</summary>
    public Dictionary<string, string> Variables { get; set; } = [];

    /// <summary>A build running longer is killed and ends failed ("timed out after …"). Default: 2 h.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromHours(2);

    /// <summary>Longer output lines are cut here (bytes of UTF-8) and marked. Default: 16384.</summary>
    public int MaxLineLength { get; set; } = 16_384;

    /// <summary>Output kept per build (bytes); later lines are dropped and one marker line counts them. Default: 64 MiB.</summary>
    public long MaxLogBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Artifact URL template for a completed build; a <c>::artifact::URL</c> output line wins. Default: none.</summary>
    public string? ArtifactUrl { get; set; }

    /// <summary>Image tag template for build jobs that do not carry their own image_tag. Default: jobsd/{project_id}:{build_job_id}.</summary>
    public string ImageTag { get; set; } = "jobsd/{project_id}:{build_job_id}";

    /// <summary>A build over its team's max_concurrent_builds waits this long (plus jitter) before trying again. Default: 5 s.</summary>
    public TimeSpan TeamLimitDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Output is written at least this often, or every <see cref="LogBatchLines"/> lines. Default: 200 ms.</summary>
    public TimeSpan LogFlushInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Default: 1000.</summary>
    public int LogBatchLines { get; set; } = 1_000;

    /// <summary>How often a running build checks whether another system set its status to cancelled. Default: 1 s.</summary>
    public TimeSpan StatusPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Attempts for infrastructure failures (checkout, command not found, database); a non-zero exit is never retried. Default: 3.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Names of jobsd's own secret-bearing settings: never passed to a build, even if listed.</summary>
    private static readonly string[] SecretPrefixes =
        ["JOBSD_", "ConnectionStrings", "Database__Password", "Encryption__", "Api__Keys", "Dashboard__PasswordHash", "CREDENTIALS_DIRECTORY", "PGPASSWORD"];

    public string WorkspaceRoot(Func<string, string?> environment) =>
        Workspace is { Length: > 0 } configured ? configured
        : environment("STATE_DIRECTORY") is { Length: > 0 } state ? Path.Combine(state.Split(':')[0], "builds")
        : Path.Combine(Path.GetTempPath(), "jobsd-builds");

    public IEnumerable<string> Validate()
    {
        if (Command.Length == 0 || string.IsNullOrWhiteSpace(Command[0])) yield return "Builds:Command: the first element is the program to run";
        for (var i = 0; i < Command.Length; i++)
        {
            if (BuildTemplate.Check(Command[i]) is { } problem) yield return $"Builds:Command:{i}: {problem}";
        }
        if (Command.Length > 0 && Command[0].Contains('{')) yield return "Builds:Command:0: the program must not come from a placeholder";
        if (ArtifactUrl is { Length: > 0 } && BuildTemplate.Check(ArtifactUrl) is { } artifactProblem) yield return $"Builds:ArtifactUrl: {artifactProblem}";
        if (string.IsNullOrWhiteSpace(ImageTag)) yield return "Builds:ImageTag: must not be empty";
        else if (BuildTemplate.Check(ImageTag) is { } tagProblem) yield return $"Builds:ImageTag: {tagProblem}";
        foreach (var (name, value) in Variables)
        {
            if (!IsVariableName(name)) yield return $"Builds:Variables:{name}: not a variable name (letters, digits, '_')";
            if (BuildTemplate.Check(value) is { } problem) yield return $"Builds:Variables:{name}: {problem}";
        }
        foreach (var name in Environment)
        {
            if (!IsVariableName(name)) yield return $"Builds:Environment: '{name}' is not a variable name (letters, digits, '_')";
            else if (IsSecret(name)) yield return $"Builds:Environment: '{name}' carries jobsd's own configuration or secrets and is never passed to builds";
        }
        if (string.IsNullOrWhiteSpace(Git)) yield return "Builds:Git: must name the git program";
        if (Timeout <= TimeSpan.Zero) yield return "Builds:Timeout: must be positive";
        if (MaxLineLength is < 80 or > 1_048_576) yield return "Builds:MaxLineLength: must be between 80 and 1048576";
        if (MaxLogBytes < 1024) yield return "Builds:MaxLogBytes: must be at least 1024";
        if (TeamLimitDelay <= TimeSpan.Zero) yield return "Builds:TeamLimitDelay: must be positive";
        if (LogFlushInterval <= TimeSpan.Zero || LogFlushInterval > TimeSpan.FromSeconds(10)) yield return "Builds:LogFlushInterval: must be between 0 and 10 s";
        if (LogBatchLines is < 1 or > 100_000) yield return "Builds:LogBatchLines: must be between 1 and 100000";
        if (StatusPollInterval <= TimeSpan.Zero) yield return "Builds:StatusPollInterval: must be positive";
        if (MaxAttempts is < 1 or > 100) yield return "Builds:MaxAttempts: must be between 1 and 100";
    }

    internal static bool IsSecret(string name) => SecretPrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase));

    private static bool IsVariableName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}
