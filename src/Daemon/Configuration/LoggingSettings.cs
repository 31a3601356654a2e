namespace Jobsd.Daemon.Configuration;

/// <summary>Section <c>Logging</c>. Levels are the standard <c>Logging:LogLevel:{Category}</c> keys.</summary>
public sealed class LoggingSettings
{
    public const string Section = "Logging";

    /// <summary><c>auto</c>, <c>text</c>, <c>json</c> (one object a line) or <c>journald</c>. Default: auto.</summary>
    public LogFormat Format { get; set; } = LogFormat.Auto;

    /// <summary>Levels per category prefix (namespace); read by the logging framework itself. Default: Information; Microsoft.AspNetCore and Npgsql: Warning.</summary>
    public Dictionary<string, string> LogLevel { get; set; } = [];

    public LogFormat Effective(Func<string, string?> environment) =>
        Format != LogFormat.Auto ? Format
        : string.IsNullOrEmpty(environment("JOURNAL_STREAM")) ? LogFormat.Text
        : LogFormat.Journald;
}
