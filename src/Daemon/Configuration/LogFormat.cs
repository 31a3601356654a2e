namespace Jobsd.Daemon.Configuration;

public enum LogFormat
{
    /// <summary><see cref="Journald"/> when systemd captures the output (JOURNAL_STREAM is set), else <see cref="Text"/>.</summary>
    Auto,
    Text,
    Json,
    Journald,
}
