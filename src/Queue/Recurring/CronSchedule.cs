using System.Globalization;

namespace Jobsd.Queue.Recurring;

/// <summary>
/// A cron schedule in the syntax Hangfire users write (Hangfire parses with Cronos): five
/// fields, or six with seconds first; month and day names; lists, ranges (reversed ranges
/// wrap), steps, <c>?</c>; <c>L</c>, <c>L-n</c>, <c>W</c>, <c>LW</c> in day-of-month; <c>nL</c>
/// and <c>n#k</c> in day-of-week; macros. When both day-of-month and day-of-week are
/// restricted, a day must match both (as in Cronos, unlike Vixie cron's "either").
/// <para>
/// <see cref="Next"/> is a pure function of the schedule, an instant and a time zone. Around
/// daylight-saving changes it does what Cronos and Vixie cron do: a local time the clock skips
/// fires at the instant the clock jumps; when an hour repeats, a fixed-time schedule fires
/// once (in the first pass) while an interval schedule keeps its cadence through both passes.
/// </para>
/// </summary>
public sealed class CronSchedule
{
    private static readonly Dictionary<string, string> Macros = new(StringComparer.OrdinalIgnoreCase)
    {
        ["@yearly"] = "0 0 1 1 *",
        ["@annually"] = "0 0 1 1 *",
        ["@monthly"] = "0 0 1 * *",
        ["@weekly"] = "0 0 * * 0",
        ["@daily"] = "0 0 * * *",
        ["@midnight"] = "0 0 * * *",
        ["@hourly"] = "0 * * * *",
        ["@every_minute"] = "* * * * *",
        ["@every_second"] = "* * * * * *",
    };

    // The Gregorian calendar, weekdays included, repeats every 400 years: a schedule with no
    // match in that span has none at all.
    private const int SearchYears = 400;

    private readonly CronField _seconds, _minutes, _hours, _days, _months, _weekdays;
    private readonly int? _lastDayOffset;   // L or L-n
    private readonly int? _nearestWeekdayTo; // nW
    private readonly bool _nearestWeekday;  // W after L
    private readonly int? _lastWeekday;     // nL in day-of-week
    private readonly (int Day, int Nth)? _nthWeekday; // d#n

    private CronSchedule(string expression, CronField seconds, CronField minutes, CronField hours, CronField days, CronField months, CronField weekdays,
        int? lastDayOffset, int? nearestWeekdayTo, bool nearestWeekday, int? lastWeekday, (int, int)? nthWeekday)
    {
        Expression = expression;
        (_seconds, _minutes, _hours, _days, _months, _weekdays) = (seconds, minutes, hours, days, months, weekdays);
        (_lastDayOffset, _nearestWeekdayTo, _nearestWeekday, _lastWeekday, _nthWeekday) = (lastDayOffset, nearestWeekdayTo, nearestWeekday, lastWeekday, nthWeekday);
        IsInterval = seconds.IsInterval || minutes.IsInterval || hours.IsInterval;
    }

    public string Expression { get; }

    /// <summary>A wildcard, range or step in the seconds, minutes or hours field: fires through both passes of a repeated hour.</summary>
    public bool IsInterval { get; }

    public override string ToString() => Expression;

    /// <exception cref="CronFormatException">The expression is malformed or can never fire; the message says which part and why.</exception>
    public static CronSchedule Parse(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var text = expression.Trim();
        CronFormatException Error(string problem) => new($"cron '{expression}': {problem}");
        if (text.Length == 0) throw Error("is empty");
        if (text.StartsWith('@'))
        {
            if (!Macros.TryGetValue(text, out var expanded))
            {
                throw Error($"unknown macro; use one of {string.Join(", ", Macros.Keys)}");
            }
            text = expanded;
        }
        var fields = text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length is not (5 or 6))
        {
            throw Error($"has {fields.Length} field(s); expected 5 (minute hour day-of-month month day-of-week) or 6 (second first)");
        }
        var i = 0;
        var seconds = fields.Length == 6 ? CronFieldKind.Second.Parse(fields[i++], Error) : new CronField(1UL, false);
        var minutes = CronFieldKind.Minute.Parse(fields[i++], Error);
        var hours = CronFieldKind.Hour.Parse(fields[i++], Error);
        var (days, lastDayOffset, nearestTo, nearestWeekday) = ParseDayOfMonth(fields[i++].ToUpperInvariant(), Error);
        var months = CronFieldKind.Month.Parse(fields[i++], Error);
        var (weekdays, lastWeekday, nth) = ParseDayOfWeek(fields[i].ToUpperInvariant(), Error);

        var schedule = new CronSchedule(expression.Trim(), seconds, minutes, hours, days, months, weekdays, lastDayOffset, nearestTo, nearestWeekday, lastWeekday, nth);
        if (schedule.NextLocal(new DateTime(2000, 1, 1)) is null)
        {
            throw Error("can never fire: no date matches its day-of-month, month and day-of-week fields together");
        }
        return schedule;
    }

    public static bool TryParse(string expression, out CronSchedule? schedule, out string? error)
    {
        try
        {
            schedule = Parse(expression);
            error = null;
            return true;
        }
        catch (CronFormatException e)
        {
            schedule = null;
            error = e.Message;
            return false;
        }
    }

    private static (CronField, int?, int?, bool) ParseDayOfMonth(string text, Func<string, CronFormatException> error)
    {
        var all = new CronField(0, true);
        if (text.StartsWith('L'))
        {
            var rest = text[1..];
            var weekday = rest.EndsWith('W');
            if (weekday) rest = rest[..^1];
            var offset = 0;
            if (rest.Length > 0 && (!rest.StartsWith('-') || !int.TryParse(rest[1..], NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset > 30))
            {
                throw error($"day-of-month '{text}': after L only -n (0-30 days before the last) and W are allowed, e.g. L, L-2, LW");
            }
            return (all, offset, null, weekday);
        }
        if (text.EndsWith('W'))
        {
            var day = CronFieldKind.DayOfMonth.Value(text[..^1], m => error($"day-of-month '{text}': W needs a single day before it ({m})"));
            return (all, null, day, false);
        }
        return (CronFieldKind.DayOfMonth.Parse(text, error), null, null, false);
    }

    private static (CronField, int?, (int, int)?) ParseDayOfWeek(string text, Func<string, CronFormatException> error)
    {
        var all = new CronField(0, true);
        var hash = text.IndexOf('#');
        if (hash >= 0)
        {
            var day = CronFieldKind.DayOfWeek.Value(text[..hash], error) % 7;
            if (!int.TryParse(text[(hash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var nth) || nth is < 1 or > 5)
            {
                throw error($"day-of-week '{text}': the number after # must be 1-5 (which occurrence of that weekday in the month)");
            }
            return (all, null, (day, nth));
        }
        if (text.Length > 1 && text.EndsWith('L'))
        {
            return (all, CronFieldKind.DayOfWeek.Value(text[..^1], error) % 7, null);
        }
        if (text == "L") throw error("day-of-week 'L' needs a weekday before it, e.g. 5L or FRIL for the last Friday");
        return (CronFieldKind.DayOfWeek.Parse(text, error), null, null);
    }

    /// <summary>The first occurrence strictly after <paramref name="after"/>, as an instant with the zone's offset then; null if none within 400 years.</summary>
    public DateTimeOffset? Next(DateTimeOffset after, TimeZoneInfo zone)
    {
        var afterUtc = after.UtcDateTime;
        // Occurrences fall on whole seconds; start the search at the next one.
        var fromUtc = new DateTime(afterUtc.Ticks - afterUtc.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc).AddSeconds(1);
        var localFrom = TimeZoneInfo.ConvertTimeFromUtc(fromUtc, zone);

        // How far the wall clock may step back in the next few hours (a repeated hour): local
        // times that far behind the start can still belong to later instants.
        var stepBack = zone.GetUtcOffset(fromUtc) - zone.GetUtcOffset(fromUtc.AddHours(3));
        if (stepBack <= TimeSpan.Zero)
        {
            // The clock only moves forward here: local order is instant order.
            for (var t = NextLocal(localFrom); t is { } local; t = NextLocal(local.AddSeconds(1)))
            {
                foreach (var instant in Instants(local, zone))
                {
                    if (instant >= fromUtc) return ToZone(instant, zone);
                }
            }
            return null;
        }

        DateTime? best = null;
        for (var t = NextLocal(localFrom - stepBack); t is { } local; t = NextLocal(local.AddSeconds(1)))
        {
            if (best is { } b && local > TimeZoneInfo.ConvertTimeFromUtc(b, zone) + stepBack) break;
            foreach (var instant in Instants(local, zone))
            {
                if (instant >= fromUtc && (best is null || instant < best)) best = instant;
            }
        }
        return best is { } found ? ToZone(found, zone) : null;
    }

    /// <summary>Occurrences strictly after <paramref name="after"/>, in order.</summary>
    public IEnumerable<DateTimeOffset> Occurrences(DateTimeOffset after, TimeZoneInfo zone)
    {
        for (var next = Next(after, zone); next is { } n; next = Next(n, zone)) yield return n;
    }

    private static DateTimeOffset ToZone(DateTime utc, TimeZoneInfo zone) =>
        new DateTimeOffset(utc, TimeSpan.Zero).ToOffset(zone.GetUtcOffset(utc));

    /// <summary>The instants (UTC) a matching wall-clock time stands for.</summary>
    private IEnumerable<DateTime> Instants(DateTime local, TimeZoneInfo zone)
    {
        if (zone.IsInvalidTime(local))
        {
            yield return JumpAfter(local, zone);
        }
        else if (zone.IsAmbiguousTime(local))
        {
            var offsets = zone.GetAmbiguousTimeOffsets(local);
            var first = offsets.Max();
            yield return DateTime.SpecifyKind(local - first, DateTimeKind.Utc);
            if (IsInterval) yield return DateTime.SpecifyKind(local - offsets.Min(), DateTimeKind.Utc);
        }
        else
        {
            yield return DateTime.SpecifyKind(local - zone.GetUtcOffset(local), DateTimeKind.Utc);
        }
    }

    /// <summary>The instant the clock jumps over <paramref name="skipped"/>: the first valid time after a gap.</summary>
    private static DateTime JumpAfter(DateTime skipped, TimeZoneInfo zone)
    {
        // Local time rises with UTC near a spring-forward gap; find, to the second, the first
        // instant whose wall-clock time is not before the skipped one.
        var lo = DateTime.SpecifyKind(skipped, DateTimeKind.Utc).AddHours(-15);
        var hi = lo.AddHours(30);
        while (hi - lo > TimeSpan.FromSeconds(1))
        {
            var mid = lo + (hi - lo) / 2;
            mid = new DateTime(mid.Ticks - mid.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
            if (mid == lo) break;
            if (TimeZoneInfo.ConvertTimeFromUtc(mid, zone) >= skipped) hi = mid; else lo = mid;
        }
        return hi;
    }

    /// <summary>The first wall-clock time at or after <paramref name="start"/> that matches, or null if none within 400 years.</summary>
    internal DateTime? NextLocal(DateTime start)
    {
        var date = start.Date;
        var fromSecond = (int)(start.TimeOfDay.Ticks / TimeSpan.TicksPerSecond);
        var limit = date.AddYears(SearchYears);
        while (date <= limit)
        {
            if (!_months.Has(date.Month))
            {
                date = new DateTime(date.Year, date.Month, 1).AddMonths(1);
                fromSecond = 0;
                continue;
            }
            if (DayMatches(date) && TimeOfDay(fromSecond) is { } time) return date + time;
            date = date.AddDays(1);
            fromSecond = 0;
        }
        return null;
    }

    private TimeSpan? TimeOfDay(int fromSecond)
    {
        var (h0, m0, s0) = (fromSecond / 3600, fromSecond / 60 % 60, fromSecond % 60);
        for (var h = _hours.NextFrom(h0); h >= 0; h = _hours.NextFrom(h + 1))
        {
            for (var m = _minutes.NextFrom(h == h0 ? m0 : 0); m >= 0; m = _minutes.NextFrom(m + 1))
            {
                var s = _seconds.NextFrom(h == h0 && m == m0 ? s0 : 0);
                if (s >= 0) return new TimeSpan(h, m, s);
            }
        }
        return null;
    }

    private bool DayMatches(DateTime date)
    {
        var daysInMonth = DateTime.DaysInMonth(date.Year, date.Month);
        bool dayOk;
        if (_lastDayOffset is { } offset)
        {
            var target = daysInMonth - offset;
            if (target < 1) return false;
            dayOk = date.Day == (_nearestWeekday ? NearestWeekday(date, target, daysInMonth) : target);
        }
        else if (_nearestWeekdayTo is { } to)
        {
            dayOk = to <= daysInMonth && date.Day == NearestWeekday(date, to, daysInMonth);
        }
        else
        {
            dayOk = _days.Has(date.Day);
        }
        if (!dayOk) return false;

        var weekday = (int)date.DayOfWeek;
        if (_lastWeekday is { } last) return weekday == last && date.Day + 7 > daysInMonth;
        if (_nthWeekday is { } nth) return weekday == nth.Day && (date.Day - 1) / 7 + 1 == nth.Nth;
        return _weekdays.Has(weekday);
    }

    /// <summary>The weekday nearest to a day of the month, never crossing into another month.</summary>
    private static int NearestWeekday(DateTime inMonth, int day, int daysInMonth)
    {
        var weekday = new DateTime(inMonth.Year, inMonth.Month, day).DayOfWeek;
        return weekday switch
        {
            DayOfWeek.Saturday => day == 1 ? 3 : day - 1,
            DayOfWeek.Sunday => day == daysInMonth ? day - 2 : day + 1,
            _ => day,
        };
    }

    /// <summary>Formats an occurrence as operators read it: ISO 8601 with the zone's offset.</summary>
    public static string Format(DateTimeOffset occurrence) => occurrence.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
}
