using Serilog.Events;
using Serilog.Formatting;

namespace Jobsd.Daemon.Logging;

/// <summary>Formats with the inner formatter, then removes secrets from the finished line.</summary>
internal sealed class RedactingFormatter(ITextFormatter inner, SecretRedactor redactor) : ITextFormatter
{
    public void Format(LogEvent logEvent, TextWriter output)
    {
        using var buffer = new StringWriter();
        inner.Format(logEvent, buffer);
        output.Write(redactor.Redact(buffer.ToString()));
    }
}
