using System.Globalization;
using Jobsd.Queue.Recurring;

namespace Jobsd.Queue.Tests;

/// <summary>The next-occurrence calculation: a pure function of schedule, instant and zone.</summary>
public sealed class CronScheduleTests
{
    private static string[] Sequence(string cron, string zone, string after, int count)
    {
        var schedule = CronSchedule.Parse(cron);
        var tz = TimeZones.Find(zone);
        return schedule.Occurrences(DateTimeOffset.Parse(after, CultureInfo.InvariantCulture), tz).Take(count).Select(CronSchedule.Format).ToArray();
    }

    private static string Next(string cron, string after, string zone = "UTC") => Assert.Single(Sequence(cron, zone, after, 1));

    [Theory]
    [InlineData("*/15 * * * *", "2026-06-01T10:07:00+00:00", "2026-06-01T10:15:00+00:00")]
    [InlineData("*/15 * * * *", "2026-06-01T10:15:00+00:00", "2026-06-01T10:30:00+00:00")] // strictly after
    [InlineData("*/15 * * * *", "2026-06-01T10:14:59.900+00:00", "2026-06-01T10:15:00+00:00")]
    [InlineData("0 0 * * *", "2026-12-31T23:59:59+00:00", "2027-01-01T00:00:00+00:00")]
    [InlineData("30 8 * * MON-FRI", "2026-06-05T09:00:00+00:00", "2026-06-08T08:30:00+00:00")] // Fri after → Mon
    [InlineData("0 0 1 */3 *", "2026-02-10T00:00:00+00:00", "2026-04-01T00:00:00+00:00")]
    [InlineData("0 0 * JAN-MAR *", "2026-03-31T12:00:00+00:00", "2027-01-01T00:00:00+00:00")]
    [InlineData("0 0 * DEC-FEB *", "2026-03-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00")] // reversed month range
    [InlineData("0 22-2 * * *", "2026-06-01T02:30:00+00:00", "2026-06-01T22:00:00+00:00")]
    [InlineData("0 22-2 * * *", "2026-06-01T23:30:00+00:00", "2026-06-02T00:00:00+00:00")]
    [InlineData("15 10 * * *", "2026-06-01T10:15:00+00:00", "2026-06-02T10:15:00+00:00")]
    [InlineData("0 12 * * 7", "2026-06-01T00:00:00+00:00", "2026-06-07T12:00:00+00:00")] // 7 is Sunday
    [InlineData("0 12 * * 0", "2026-06-01T00:00:00+00:00", "2026-06-07T12:00:00+00:00")]
    [InlineData("0 12 * * SAT-MON", "2026-06-02T00:00:00+00:00", "2026-06-06T12:00:00+00:00")] // Tue → Sat
    [InlineData("0 12 * * 5-7", "2026-06-06T13:00:00+00:00", "2026-06-07T12:00:00+00:00")] // Sat → Sun via 7
    [InlineData("0 0 13 * 5", "2026-02-14T00:00:00+00:00", "2026-03-13T00:00:00+00:00")] // Friday the 13th: both must match
    [InlineData("0 0 29 2 *", "2026-03-01T00:00:00+00:00", "2028-02-29T00:00:00+00:00")]
    [InlineData("0 0 L * *", "2026-01-31T00:00:00+00:00", "2026-02-28T00:00:00+00:00")]
    [InlineData("0 0 L * *", "2028-02-01T00:00:00+00:00", "2028-02-29T00:00:00+00:00")]
    [InlineData("0 0 L * *", "2026-04-01T00:00:00+00:00", "2026-04-30T00:00:00+00:00")]
    [InlineData("0 0 L-1 * *", "2026-02-01T00:00:00+00:00", "2026-02-27T00:00:00+00:00")]
    [InlineData("0 0 LW * *", "2026-05-01T00:00:00+00:00", "2026-05-29T00:00:00+00:00")] // 31st is a Sunday
    [InlineData("0 0 LW * *", "2026-02-01T00:00:00+00:00", "2026-02-27T00:00:00+00:00")] // 28th is a Saturday
    [InlineData("0 0 1W * *", "2026-07-31T00:00:00+00:00", "2026-08-03T00:00:00+00:00")] // 1st Saturday → Monday the 3rd
    [InlineData("0 0 1W * *", "2026-01-31T00:00:00+00:00", "2026-02-02T00:00:00+00:00")] // 1st Sunday → Monday
    [InlineData("0 0 15W * *", "2026-08-01T00:00:00+00:00", "2026-08-14T00:00:00+00:00")] // Saturday → Friday
    [InlineData("0 0 15W * *", "2026-11-01T00:00:00+00:00", "2026-11-16T00:00:00+00:00")] // Sunday → Monday
    [InlineData("0 0 31W * *", "2027-01-01T00:00:00+00:00", "2027-01-29T00:00:00+00:00")] // 31st Sunday → Friday, same month
    [InlineData("0 9 * * MON#1", "2026-05-05T00:00:00+00:00", "2026-06-01T09:00:00+00:00")]
    [InlineData("0 9 * * 1#1", "2026-06-01T09:00:00+00:00", "2026-07-06T09:00:00+00:00")]
    [InlineData("0 0 * * 6#5", "2026-01-01T00:00:00+00:00", "2026-01-31T00:00:00+00:00")] // fifth Saturday exists in Jan 2026
    [InlineData("0 0 * * 5L", "2026-05-01T00:00:00+00:00", "2026-05-29T00:00:00+00:00")]
    [InlineData("0 0 * * FRIL", "2026-05-30T00:00:00+00:00", "2026-06-26T00:00:00+00:00")]
    [InlineData("0 0 ? 1 MON#1", "2026-01-06T00:00:00+00:00", "2027-01-04T00:00:00+00:00")]
    [InlineData("30,45-15/2 1 * * *", "2026-06-01T01:15:00+00:00", "2026-06-01T01:30:00+00:00")]
    [InlineData("30,45-15/2 1 * * *", "2026-06-01T01:59:00+00:00", "2026-06-02T01:01:00+00:00")] // the step carries across the wrap
    [InlineData("*/24 * * * *", "2026-06-01T10:49:00+00:00", "2026-06-01T11:00:00+00:00")] // 0,24,48 — not every 24 minutes
    [InlineData("5/20 * * * *", "2026-06-01T10:46:00+00:00", "2026-06-01T11:05:00+00:00")]
    [InlineData("*/20 * * * * *", "2026-06-01T10:00:41+00:00", "2026-06-01T10:01:00+00:00")] // six fields: seconds first
    [InlineData("@yearly", "2026-06-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00")]
    [InlineData("@monthly", "2026-06-01T00:00:00+00:00", "2026-07-01T00:00:00+00:00")]
    [InlineData("@weekly", "2026-06-01T00:00:00+00:00", "2026-06-07T00:00:00+00:00")]
    [InlineData("@daily", "2026-06-01T00:00:00+00:00", "2026-06-02T00:00:00+00:00")]
    [InlineData("@hourly", "2026-06-01T00:30:00+00:00", "2026-06-01T01:00:00+00:00")]
    [InlineData("@every_minute", "2026-06-01T00:30:30+00:00", "2026-06-01T00:31:00+00:00")]
    [InlineData("@EVERY_SECOND", "2026-06-01T00:30:30.5+00:00", "2026-06-01T00:30:31+00:00")]
    public void Next_occurrence_in_utc(string cron, string after, string expected) => Assert.Equal(expected, Next(cron, after));

    [Fact]
    public void Every_second_fires_each_second_of_a_minute_without_gaps_or_doubles()
    {
        var fires = Sequence("* * * * * *", "UTC", "2026-06-01T10:00:00+00:00", 60);
        var expected = Enumerable.Range(1, 60).Select(s => CronSchedule.Format(new DateTimeOffset(2026, 6, 1, 10, 0, 0, TimeSpan.Zero).AddSeconds(s)));
        Assert.Equal(expected, fires);
    }

    // Europe/Berlin: 2026-03-29 02:00 CET → 03:00 CEST; 2026-10-25 03:00 CEST → 02:00 CET.
    [Fact]
    public void Berlin_spring_forward_fires_a_skipped_time_right_after_the_jump() =>
        Assert.Equal(["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"], Sequence("30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00+01:00", 2));

    [Fact]
    public void Berlin_spring_forward_collapses_an_interval_schedule_into_the_jump() =>
        Assert.Equal(["2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:15:00+02:00"],
            Sequence("*/15 * * * *", "Europe/Berlin", "2026-03-29T01:30:00+01:00", 3));

    [Fact]
    public void Berlin_fall_back_fires_a_fixed_time_once() =>
        Assert.Equal(["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"], Sequence("30 2 * * *", "Europe/Berlin", "2026-10-25T00:00:00+02:00", 2));

    [Fact]
    public void Berlin_fall_back_keeps_an_interval_schedule_through_both_hours() =>
        Assert.Equal(["2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:00:00+01:00"],
            Sequence("*/30 * * * *", "Europe/Berlin", "2026-10-25T01:45:00+02:00", 5));

    [Fact]
    public void Berlin_fall_back_from_inside_the_second_pass_does_not_go_back_to_the_first() =>
        Assert.Equal(["2026-10-25T02:45:00+01:00", "2026-10-25T03:00:00+01:00"],
            Sequence("*/15 * * * *", "Europe/Berlin", "2026-10-25T02:30:00+01:00", 2));

    [Fact]
    public void Berlin_fall_back_fixed_time_seen_from_the_second_pass_waits_for_tomorrow() =>
        Assert.Equal("2026-10-26T02:30:00+01:00", Assert.Single(Sequence("30 2 * * *", "Europe/Berlin", "2026-10-25T02:10:00+01:00", 1)));

    // America/New_York: 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
    [Fact]
    public void New_York_spring_forward() =>
        Assert.Equal(["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"], Sequence("30 2 * * *", "America/New_York", "2026-03-07T12:00:00-05:00", 2));

    [Fact]
    public void New_York_fall_back_fixed_time_once() =>
        Assert.Equal(["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"], Sequence("30 1 * * *", "America/New_York", "2026-10-31T23:00:00-04:00", 2));

    [Fact]
    public void New_York_fall_back_hourly_runs_in_both_hours() =>
        Assert.Equal(["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"],
            Sequence("0 * * * *", "America/New_York", "2026-11-01T00:30:00-04:00", 3));

    [Fact]
    public void New_York_list_of_fixed_times_is_not_an_interval() =>
        Assert.Equal(["2026-11-01T01:00:00-04:00", "2026-11-01T01:45:00-04:00", "2026-11-02T01:00:00-05:00"],
            Sequence("0,45 1 * * *", "America/New_York", "2026-11-01T00:30:00-04:00", 3));

    // Australia/Lord_Howe shifts by 30 minutes: 2026-04-05 02:00 (+11) → 01:30 (+10:30); 2026-10-04 02:00 (+10:30) → 02:30 (+11).
    [Fact]
    public void Lord_Howe_half_hour_spring_forward() =>
        Assert.Equal(["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"], Sequence("15 2 * * *", "Australia/Lord_Howe", "2026-10-04T01:00:00+10:30", 2));

    [Fact]
    public void Lord_Howe_half_hour_fall_back_interval_and_fixed() =>
        Assert.Multiple(
            () => Assert.Equal(["2026-04-05T01:30:00+11:00", "2026-04-05T01:40:00+11:00", "2026-04-05T01:50:00+11:00",
                                "2026-04-05T01:30:00+10:30", "2026-04-05T01:40:00+10:30", "2026-04-05T01:50:00+10:30", "2026-04-05T02:00:00+10:30"],
                Sequence("*/10 * * * *", "Australia/Lord_Howe", "2026-04-05T01:25:00+11:00", 7)),
            () => Assert.Equal(["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"],
                Sequence("45 1 * * *", "Australia/Lord_Howe", "2026-04-05T00:00:00+11:00", 2)));

    [Fact]
    public void Every_second_across_a_fall_back_never_repeats_an_instant()
    {
        var fires = Sequence("* * * * * *", "Europe/Berlin", "2026-10-25T02:59:30+02:00", 60)
            .Select(f => DateTimeOffset.Parse(f, CultureInfo.InvariantCulture).UtcDateTime).ToArray();
        var start = new DateTime(2026, 10, 25, 0, 59, 31, DateTimeKind.Utc);
        Assert.Equal(Enumerable.Range(0, 60).Select(s => start.AddSeconds(s)), fires);
    }

    [Theory]
    [InlineData("0 0 30 2 *", "can never fire")]
    [InlineData("0 0 31 4,6,9,11 *", "can never fire")]
    [InlineData("0 0 L-30 2 *", "can never fire")]
    [InlineData("", "is empty")]
    [InlineData("* * * *", "has 4 field(s); expected 5")]
    [InlineData("* * * * * * *", "has 7 field(s)")]
    [InlineData("60 * * * *", "minute value 60 is out of range 0-59")]
    [InlineData("0 24 * * *", "hour value 24 is out of range 0-23")]
    [InlineData("0 0 0 * *", "day-of-month value 0 is out of range 1-31")]
    [InlineData("0 0 * 13 *", "month value 13 is out of range 1-12")]
    [InlineData("0 0 * * 8", "day-of-week value 8 is out of range 0-7")]
    [InlineData("0 0 * FOO *", "month value 'FOO' is neither a number")]
    [InlineData("*/0 * * * *", "minute step '0' must be a number from 1 to 59")]
    [InlineData("1,,2 * * * *", "empty list item")]
    [InlineData("0 0 * * MON#6", "must be 1-5")]
    [InlineData("0 0 L-x * *", "after L only -n")]
    [InlineData("0 0 * * L", "needs a weekday before it")]
    [InlineData("@fortnightly", "unknown macro")]
    [InlineData("0 0 1-5W * *", "W needs a single day")]
    public void Bad_expressions_are_rejected_with_a_message_naming_the_problem(string cron, string problem)
    {
        var e = Assert.Throws<CronFormatException>(() => CronSchedule.Parse(cron));
        Assert.Contains(problem, e.Message);
        Assert.StartsWith($"cron '{cron}'", e.Message);
    }

    [Theory]
    [InlineData("*/15 * * * *", true)]
    [InlineData("30 * * * *", true)]
    [InlineData("0 1-3 * * *", true)]
    [InlineData("30 1 * * *", false)]
    [InlineData("0,45 1,2 * * *", false)]
    [InlineData("0 30 1 * * *", false)]
    [InlineData("* 30 1 * * *", true)]
    [InlineData("@daily", false)]
    [InlineData("@hourly", true)]
    public void Interval_schedules_are_those_with_a_wildcard_range_or_step_in_the_time_fields(string cron, bool interval) =>
        Assert.Equal(interval, CronSchedule.Parse(cron).IsInterval);

    [Fact]
    public void Unknown_time_zone_names_the_zone_and_suggests_the_form()
    {
        var e = Assert.Throws<CronFormatException>(() => TimeZones.Find("Europe/Berln"));
        Assert.Contains("'Europe/Berln'", e.Message);
        Assert.Contains("IANA", e.Message);
    }
}
