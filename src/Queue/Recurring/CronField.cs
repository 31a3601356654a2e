using System.Numerics;

namespace Jobsd.Queue.Recurring;

/// <summary>
/// One parsed field of a cron expression: the set of values it allows, as a bit mask, and
/// whether it spans an interval (a wildcard, range or step — what decides how a schedule
/// behaves when a daylight-saving change repeats an hour).
/// </summary>
internal readonly record struct CronField(ulong Bits, bool IsInterval)
{
    public bool Has(int value) => (Bits & (1UL << value)) != 0;

    /// <summary>The smallest allowed value at or above <paramref name="from"/>, or -1.</summary>
    public int NextFrom(int from)
    {
        if (from > 63) return -1;
        var rest = Bits >> from << from;
        return rest == 0 ? -1 : BitOperations.TrailingZeroCount(rest);
    }

    public int First => NextFrom(0);
}

/// <summary>The range and names of one kind of field, and the parser for its ordinary syntax.</summary>
internal sealed class CronFieldKind(string name, int min, int max, string[]? names = null, int nameBase = 0)
{
    public static readonly CronFieldKind Second = new("second", 0, 59);
    public static readonly CronFieldKind Minute = new("minute", 0, 59);
    public static readonly CronFieldKind Hour = new("hour", 0, 23);
    public static readonly CronFieldKind DayOfMonth = new("day-of-month", 1, 31);
    public static readonly CronFieldKind Month = new("month", 1, 12,
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1);
    // 7 is Sunday too; it is folded onto 0 after parsing.
    public static readonly CronFieldKind DayOfWeek = new("day-of-week", 0, 7, ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]);

    public string Name => name;
    public int Min => min;
    public int Max => max;

    /// <summary>
    /// Parses lists of values, ranges (reversed ones wrap: <c>22-2</c> is 22,23,0,1,2), steps
    /// (<c>*/15</c>, <c>5/10</c>, <c>1-20/3</c>), <c>*</c> and <c>?</c>.
    /// </summary>
    public CronField Parse(string text, Func<string, CronFormatException> error)
    {
        ulong bits = 0;
        var interval = false;
        foreach (var item in text.Split(','))
        {
            if (item.Length == 0) throw error($"{name} field '{text}' has an empty list item");
            var slash = item.IndexOf('/');
            var rangePart = slash < 0 ? item : item[..slash];
            var step = 1;
            if (slash >= 0)
            {
                var stepText = item[(slash + 1)..];
                if (!int.TryParse(stepText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out step) || step < 1 || step > max)
                {
                    throw error($"{name} step '{stepText}' must be a number from 1 to {max}");
                }
                interval = true;
            }
            int from, to;
            if (rangePart is "*" or "?")
            {
                (from, to) = (min, DayOfWeekAware(max));
                interval = true;
            }
            else
            {
                var dash = rangePart.IndexOf('-', 1);
                if (dash > 0)
                {
                    from = Value(rangePart[..dash], error);
                    to = Value(rangePart[(dash + 1)..], error);
                    interval = true;
                }
                else
                {
                    from = Value(rangePart, error);
                    // "5/15" runs from 5 to the end of the field.
                    to = slash >= 0 ? DayOfWeekAware(max) : from;
                }
            }
            bits |= Expand(from, to, step);
        }
        if (ReferenceEquals(this, DayOfWeek) && (bits & (1UL << 7)) != 0) bits = (bits & ~(1UL << 7)) | 1UL;
        return new CronField(bits, interval);
    }

    /// <summary>A single value: a number in range or (month, day-of-week) a three-letter name.</summary>
    public int Value(string text, Func<string, CronFormatException> error)
    {
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v))
        {
            if (v < min || v > max) throw error($"{name} value {v} is out of range {min}-{max}");
            return v;
        }
        if (names is not null)
        {
            var i = Array.FindIndex(names, n => string.Equals(n, text, StringComparison.OrdinalIgnoreCase));
            if (i >= 0) return i + nameBase;
            throw error($"{name} value '{text}' is neither a number ({min}-{max}) nor one of {string.Join(", ", names)}");
        }
        throw error($"{name} value '{text}' is not a number in {min}-{max}");
    }

    // '*' in day-of-week covers 0-6; 7 is only an alias.
    private int DayOfWeekAware(int top) => ReferenceEquals(this, DayOfWeek) ? 6 : top;

    private ulong Expand(int from, int to, int step)
    {
        var top = DayOfWeekAware(max);
        // Day-of-week 7 (Sunday) at the start of a range is 0; at its end (1-7, MON-7) the
        // range runs up to 7, which is folded onto 0 after parsing.
        if (ReferenceEquals(this, DayOfWeek) && from == 7) (from, to) = (0, to == 7 ? 0 : to);
        var size = top - min + 1;
        // A reversed range wraps around the field's end; its step carries across the wrap.
        var span = to >= from ? to - from : to - from + size;
        ulong bits = 0;
        for (var offset = 0; offset <= span; offset += step)
        {
            var value = from + offset;
            if (to < from) value = min + (from - min + offset) % size;
            bits |= 1UL << value;
        }
        return bits;
    }
}
