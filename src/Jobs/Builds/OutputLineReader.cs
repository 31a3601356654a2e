using System.Text;

namespace Jobsd.Jobs.Builds;

public enum LogStream { Stdout, Stderr }

/// <summary>One line of a build's output, ready to store.</summary>
public readonly record struct LogLine(LogStream Stream, DateTime At, string Text);

/// <summary>
/// Splits a child's output stream into lines with bounded memory whatever it prints: a line is
/// kept up to <c>maxLineBytes</c> and the rest of it is counted and skipped until the newline
/// (a marker says how much was cut); bytes are decoded as UTF-8 with invalid sequences replaced
/// (U+FFFD) and NUL characters removed, since PostgreSQL text cannot hold them.
/// </summary>
public sealed class OutputLineReader(Stream stream, LogStream kind, int maxLineBytes, TimeProvider clock)
{
    private static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    public async Task ReadAsync(Func<LogLine, ValueTask> emit, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        var line = new byte[maxLineBytes];
        var length = 0;
        long cut = 0;
        while (true)
        {
            var read = await stream.ReadAsync(buffer, ct);
            if (read == 0) break;
            var span = buffer.AsMemory(0, read);
            while (span.Length > 0)
            {
                var newline = span.Span.IndexOf((byte)'\n');
                var chunk = newline < 0 ? span : span[..newline];
                var room = maxLineBytes - length;
                var take = Math.Min(room, chunk.Length);
                chunk.Span[..take].CopyTo(line.AsSpan(length));
                length += take;
                cut += chunk.Length - take;
                if (newline < 0) break;
                await emit(Make(line, length, cut));
                length = 0;
                cut = 0;
                span = span[(newline + 1)..];
            }
        }
        if (length > 0 || cut > 0) await emit(Make(line, length, cut));
    }

    private LogLine Make(byte[] line, int length, long cut)
    {
        if (cut == 0 && length > 0 && line[length - 1] == '\r') length--;
        if (cut > 0)
        {
            // Never end on half a character: back up to the start of the last, cut-off sequence.
            var keep = length;
            var back = 0;
            while (keep > 0 && back < 4 && (line[keep - 1] & 0xC0) == 0x80) { keep--; back++; }
            if (keep > 0 && line[keep - 1] >= 0xC0 && Utf8SequenceLength(line[keep - 1]) > back + 1)
            {
                cut += length - keep + 1;
                length = keep - 1;
            }
        }
        var text = Utf8.GetString(line, 0, length);
        if (text.Contains('\0')) text = text.Replace("\0", "", StringComparison.Ordinal);
        if (cut > 0) text += $" … [jobsd: line cut, {cut} more bytes]";
        return new LogLine(kind, clock.GetUtcNow().UtcDateTime, text);
    }

    private static int Utf8SequenceLength(byte lead) => lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
}
