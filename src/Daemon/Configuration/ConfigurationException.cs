namespace Jobsd.Daemon.Configuration;

/// <summary>Configuration jobsd cannot start with. Each problem names the file or key; exit code 78 (EX_CONFIG).</summary>
public sealed class ConfigurationException(IReadOnlyList<string> problems)
    : Exception(string.Join(Environment.NewLine, problems))
{
    public const int ExitCode = 78;

    public IReadOnlyList<string> Problems { get; } = problems;
}
