using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace Jobsd.Daemon.Logging;

/// <summary>Writes formatted events to any <see cref="TextWriter"/> (stderr for CLI verbs, a buffer in tests).</summary>
internal sealed class TextWriterSink(ITextFormatter formatter, TextWriter output) : ILogEventSink
{
    private readonly Lock _gate = new();

    public void Emit(LogEvent logEvent)
    {
        lock (_gate)
        {
            formatter.Format(logEvent, output);
            output.Flush();
        }
    }
}
