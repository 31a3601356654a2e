namespace Jobsd.Queue.Recurring;

/// <summary>A cron expression or time zone that cannot be used; the message names the expression and the problem.</summary>
public sealed class CronFormatException(string message) : FormatException(message);
