using System.Text;
using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;

namespace Jobsd.Jobs.Builds;

/// <summary>
/// Writes one build's output into build_logs by binary COPY, in batches of up to
/// <see cref="BuildSettings.LogBatchLines"/> lines or every <see cref="BuildSettings.LogFlushInterval"/>.
/// The channel in front is bounded: when the database is slower than the build, the readers
/// wait, the pipe fills and the child blocks on its next write — memory stays bounded. Past
/// <see cref="BuildSettings.MaxLogBytes"/> lines are counted, not stored; <see cref="CompleteAsync"/>
/// adds one marker saying how many. Also keeps what the build's result needs: the last stderr
/// lines and the last <c>::artifact::URL</c> line.
/// </summary>
public sealed class BuildLogWriter : IAsyncDisposable
{
    public const string ArtifactPrefix = "::artifact::";
    private const int TailLines = 20;

    private readonly NpgsqlDataSource _dataSource;
    private readonly Guid _buildJobId;
    private readonly BuildSettings _settings;
    private readonly TimeProvider _clock;
    private readonly Channel<LogLine> _lines;
    private readonly Task _writer;
    private readonly CancellationTokenSource _abort = new();
    private readonly Queue<string> _stderrTail = new();
    private long _bytes;
    private long _droppedLines;
    private long _droppedBytes;

    public BuildLogWriter(NpgsqlDataSource dataSource, Guid buildJobId, BuildSettings settings, TimeProvider clock)
    {
        _dataSource = dataSource;
        _buildJobId = buildJobId;
        _settings = settings;
        _clock = clock;
        _lines = Channel.CreateBounded<LogLine>(new BoundedChannelOptions(settings.LogBatchLines * 2)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _writer = Task.Run(() => RunAsync(_abort.Token));
    }

    public long LinesWritten { get; private set; }
    public string? ArtifactUrl { get; private set; }

    /// <summary>The last stderr lines, oldest first (for a failed build's error).</summary>
    public string StderrTail
    {
        get { lock (_stderrTail) return string.Join('\n', _stderrTail); }
    }

    /// <summary>The writer's failure (the database went away for longer than its retries), once it has failed.</summary>
    public Task Failure => _writer;

    public async ValueTask WriteAsync(LogLine line, CancellationToken ct)
    {
        if (line.Stream == LogStream.Stdout && line.Text.StartsWith(ArtifactPrefix, StringComparison.Ordinal))
        {
            ArtifactUrl = line.Text[ArtifactPrefix.Length..].Trim();
        }
        if (line.Stream == LogStream.Stderr)
        {
            lock (_stderrTail)
            {
                _stderrTail.Enqueue(line.Text.Length > 500 ? line.Text[..500] + "…" : line.Text);
                if (_stderrTail.Count > TailLines) _stderrTail.Dequeue();
            }
        }
        var size = Encoding.UTF8.GetByteCount(line.Text) + 1;
        if (Interlocked.Add(ref _bytes, size) > _settings.MaxLogBytes)
        {
            Interlocked.Increment(ref _droppedLines);
            Interlocked.Add(ref _droppedBytes, size);
            return;
        }
        if (_writer.IsCompleted) await _writer; // surfaces the write failure to the reader
        await _lines.Writer.WriteAsync(line, ct);
    }

    /// <summary>A line from jobsd itself (restart, interruption), on stderr so it stands out.</summary>
    public ValueTask NoteAsync(string text, CancellationToken ct) =>
        _lines.Writer.WriteAsync(new LogLine(LogStream.Stderr, _clock.GetUtcNow().UtcDateTime, "[jobsd] " + text), ct);

    /// <summary>No more output: adds the dropped-lines marker, then waits until every line is stored.</summary>
    public async Task CompleteAsync(CancellationToken ct)
    {
        if (_droppedLines > 0)
        {
            await NoteAsync($"{_droppedLines} more lines ({_droppedBytes} bytes) not stored: the log reached Builds:MaxLogBytes ({_settings.MaxLogBytes} bytes)", ct);
        }
        _lines.Writer.TryComplete();
        await _writer.WaitAsync(ct);
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var batch = new List<LogLine>(_settings.LogBatchLines);
        var reader = _lines.Reader;
        while (await reader.WaitToReadAsync(ct))
        {
            var deadline = _clock.GetUtcNow() + _settings.LogFlushInterval;
            while (batch.Count < _settings.LogBatchLines)
            {
                if (reader.TryRead(out var line)) { batch.Add(line); continue; }
                var left = deadline - _clock.GetUtcNow();
                if (left <= TimeSpan.Zero) break;
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                wait.CancelAfter(left);
                try
                {
                    if (!await reader.WaitToReadAsync(wait.Token)) break;
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    break;
                }
            }
            await FlushAsync(batch, ct);
            LinesWritten += batch.Count;
            batch.Clear();
        }
    }

    /// <summary>A lost connection (database restart, failover) is retried for about half a minute before the build gives up.</summary>
    private async Task FlushAsync(List<LogLine> batch, CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await CopyAsync(batch, ct);
                return;
            }
            catch (Exception e) when (e is NpgsqlException or System.IO.IOException or TimeoutException && attempt < 8 && !ct.IsCancellationRequested)
            {
                await Task.Delay(delay, _clock, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 8_000));
            }
        }
    }

    private async Task CopyAsync(List<LogLine> batch, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var import = await connection.BeginBinaryImportAsync(
            "copy build_logs (build_job_id, logged_at, stream, line) from stdin (format binary)", ct);
        foreach (var line in batch)
        {
            await import.StartRowAsync(ct);
            await import.WriteAsync(_buildJobId, NpgsqlDbType.Uuid, ct);
            await import.WriteAsync(line.At, NpgsqlDbType.TimestampTz, ct);
            await import.WriteAsync(line.Stream == LogStream.Stdout ? "stdout" : "stderr", NpgsqlDbType.Text, ct);
            await import.WriteAsync(line.Text, NpgsqlDbType.Text, ct);
        }
        await import.CompleteAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _abort.CancelAsync();
        try
        {
            await _writer;
        }
        catch (Exception)
        {
            // Already reported through Failure / CompleteAsync; disposal only stops the loop.
        }
        _abort.Dispose();
    }
}
