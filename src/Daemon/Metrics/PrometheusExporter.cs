using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Jobsd.Queue;

namespace Jobsd.Daemon.Metrics;

/// <summary>
/// Serves meter <c>Jobsd</c> in the Prometheus text format (0.0.4) at <c>/metrics</c>, written over
/// <see cref="MeterListener"/> because the exporter package is not available. Counters become
/// <c>_total</c> series, histograms cumulative <c>_bucket</c>/<c>_sum</c>/<c>_count</c> series with
/// fixed boundaries fit for job durations, observable gauges are read at scrape time.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    /// <summary>Seconds: from a fast noop to a long build.</summary>
    internal static readonly double[] Buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600, 7200];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Series> _series = new();
    private readonly Lock _scrape = new();
    private Dictionary<(Instrument, string), double>? _gauges;

    private sealed class Series
    {
        public readonly ConcurrentDictionary<string, double> Sums = new();
        public readonly ConcurrentDictionary<string, Histogram> Histograms = new();
    }

    private sealed class Histogram
    {
        public readonly long[] Counts = new long[Buckets.Length + 1];
        public double Sum;
        public long Count;
    }

    public PrometheusExporter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == JobsdMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = Labels(tags);
        if (instrument.GetType().Name.StartsWith("ObservableGauge", StringComparison.Ordinal))
        {
            // Only during a scrape (RecordObservableInstruments), under the scrape lock.
            _gauges?.TryAdd((instrument, labels), value);
            return;
        }
        var series = _series.GetOrAdd(instrument, _ => new Series());
        if (instrument is Histogram<double>)
        {
            var h = series.Histograms.GetOrAdd(labels, _ => new Histogram());
            lock (h)
            {
                var i = 0;
                while (i < Buckets.Length && value > Buckets[i]) i++;
                h.Counts[i]++;
                h.Sum += value;
                h.Count++;
            }
        }
        else
        {
            series.Sums.AddOrUpdate(labels, value, (_, old) => old + value);
        }
    }

    public string Scrape()
    {
        lock (_scrape)
        {
            _gauges = [];
            _listener.RecordObservableInstruments();
            var gauges = _gauges;
            _gauges = null;
            var text = new StringBuilder();
            foreach (var (instrument, series) in _series.OrderBy(s => s.Key.Name, StringComparer.Ordinal))
            {
                if (instrument is Histogram<double>) WriteHistogram(text, instrument, series);
                else WriteCounter(text, instrument, series);
            }
            foreach (var group in gauges.GroupBy(g => g.Key.Item1).OrderBy(g => g.Key.Name, StringComparer.Ordinal))
            {
                var name = Name(group.Key);
                Header(text, name, group.Key, "gauge");
                foreach (var ((_, labels), value) in group.OrderBy(g => g.Key.Item2, StringComparer.Ordinal)) text.Append(name).Append(labels).Append(' ').Append(Number(value)).Append('\n');
            }
            return text.ToString();
        }
    }

    private static void WriteCounter(StringBuilder text, Instrument instrument, Series series)
    {
        var name = Name(instrument) + "_total";
        Header(text, name, instrument, "counter");
        foreach (var (labels, value) in series.Sums.OrderBy(s => s.Key, StringComparer.Ordinal)) text.Append(name).Append(labels).Append(' ').Append(Number(value)).Append('\n');
    }

    private static void WriteHistogram(StringBuilder text, Instrument instrument, Series series)
    {
        var name = Name(instrument);
        Header(text, name, instrument, "histogram");
        foreach (var (labels, h) in series.Histograms.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            long[] counts;
            double sum;
            long count;
            lock (h)
            {
                counts = (long[])h.Counts.Clone();
                sum = h.Sum;
                count = h.Count;
            }
            long cumulative = 0;
            for (var i = 0; i <= Buckets.Length; i++)
            {
                cumulative += counts[i];
                var le = i < Buckets.Length ? Number(Buckets[i]) : "+Inf";
                text.Append(name).Append("_bucket").Append(WithLabel(labels, "le", le)).Append(' ').Append(cumulative).Append('\n');
            }
            text.Append(name).Append("_sum").Append(labels).Append(' ').Append(Number(sum)).Append('\n');
            text.Append(name).Append("_count").Append(labels).Append(' ').Append(count).Append('\n');
        }
    }

    private static void Header(StringBuilder text, string name, Instrument instrument, string type)
    {
        if (instrument.Description is { Length: > 0 } help) text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    /// <summary><c>jobsd.job.duration</c> with unit <c>s</c> → <c>jobsd_job_duration_seconds</c>.</summary>
    internal static string Name(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_').Replace('-', '_');
        return instrument.Unit == "s" ? name + "_seconds" : name;
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0) return "";
        var pairs = new List<KeyValuePair<string, object?>>(tags.ToArray());
        pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return "{" + string.Join(",", pairs.Select(p => $"{p.Key}=\"{Escape(Convert.ToString(p.Value, CultureInfo.InvariantCulture) ?? "")}\"")) + "}";
    }

    private static string WithLabel(string labels, string key, string value) =>
        labels.Length == 0 ? $"{{{key}=\"{value}\"}}" : labels[..^1] + $",{key}=\"{value}\"}}";

    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public void Dispose() => _listener.Dispose();
}
