namespace Jobsd.Queue.Recurring;

/// <summary>Resolves the IANA time zone a recurring job runs in (from the system's tzdata).</summary>
public static class TimeZones
{
    /// <exception cref="CronFormatException">No such zone; the message names it.</exception>
    public static TimeZoneInfo Find(string? id)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Equals("UTC", StringComparison.OrdinalIgnoreCase)) return TimeZoneInfo.Utc;
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id.Trim());
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new CronFormatException($"unknown time zone '{id}': use an IANA name such as UTC, Europe/Berlin or America/New_York");
        }
    }
}
