using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;

namespace Jobsd.Daemon.Logging;

/// <summary>
/// Lines for journald's stdout stream: each starts with its syslog priority (<c>&lt;3&gt;</c> error …
/// <c>&lt;7&gt;</c> debug) and has no timestamp (the journal adds one). Every line of a
/// multi-line event (a stack trace) carries the prefix, so journald files it at the same priority.
/// </summary>
internal sealed class JournaldFormatter : ITextFormatter
{
    private readonly MessageTemplateTextFormatter _body =
        new("{SourceContext}: {Message:lj}{NewLine}{Exception}", formatProvider: null);

    public void Format(LogEvent logEvent, TextWriter output)
    {
        using var buffer = new StringWriter();
        _body.Format(logEvent, buffer);
        var prefix = $"<{Priority(logEvent.Level)}>";
        foreach (var line in buffer.ToString().Split('\n'))
        {
            var trimmed = line.TrimEnd('\r');
            if (trimmed.Length == 0) continue;
            output.Write(prefix);
            output.Write(trimmed);
            output.Write('\n');
        }
    }

    internal static int Priority(LogEventLevel level) => level switch
    {
        LogEventLevel.Fatal => 2,
        LogEventLevel.Error => 3,
        LogEventLevel.Warning => 4,
        LogEventLevel.Information => 6,
        _ => 7,
    };
}
