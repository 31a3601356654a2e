using System.Globalization;
using System.Text.RegularExpressions;

namespace Jobsd.Daemon.Cli;

/// <summary>Durations as operators type them: <c>90s</c>, <c>15m</c>, <c>2h</c>, <c>1d</c>, <c>1h30m</c>, or <c>hh:mm:ss</c>.</summary>
public static partial class DurationParser
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration) && text.Contains(':')) return duration >= TimeSpan.Zero;
        var match = Units().Match(text.Trim());
        if (!match.Success || match.Length == 0) return false;
        duration = TimeSpan.Zero;
        foreach (Capture part in match.Groups["part"].Captures)
        {
            var unit = part.Value[^1];
            var value = double.Parse(part.Value[..^1], CultureInfo.InvariantCulture);
            duration += unit switch
            {
                'd' => TimeSpan.FromDays(value),
                'h' => TimeSpan.FromHours(value),
                'm' => TimeSpan.FromMinutes(value),
                _ => TimeSpan.FromSeconds(value),
            };
        }
        return true;
    }

    [GeneratedRegex(@"^(?<part>\d+(\.\d+)?[dhms])+$")]
    private static partial Regex Units();
}
