using Jobsd.Daemon.Configuration;
using Serilog;
using Serilog.Formatting;
using Serilog.Formatting.Display;
using Serilog.Formatting.Json;

namespace Jobsd.Daemon.Logging;

/// <summary>
/// Builds the Serilog pipeline: console only, in the configured format, secrets redacted.
/// Level filtering is left to Microsoft.Extensions.Logging's <c>Logging:LogLevel</c> rules
/// (per category prefix), so there is one place to set levels.
/// </summary>
public static class LoggerFactoryBuilder
{
    public static Serilog.Core.Logger Create(LoggingSettings settings, SecretRedactor redactor, TextWriter? output = null)
    {
        ITextFormatter formatter = settings.Effective(Environment.GetEnvironmentVariable) switch
        {
            LogFormat.Journald => new JournaldFormatter(),
            LogFormat.Json => new JsonFormatter(renderMessage: true),
            _ => new MessageTemplateTextFormatter(
                "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}", formatProvider: null),
        };
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Verbose()
            .Enrich.FromLogContext();
        formatter = new RedactingFormatter(formatter, redactor);
        configuration = output is null
            ? configuration.WriteTo.Console(formatter)
            : configuration.WriteTo.Sink(new TextWriterSink(formatter, output));
        return configuration.CreateLogger();
    }
}
